"""The built-in probes, one module each: host, router, dns, internet."""

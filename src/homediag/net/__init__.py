"""Small network helpers shared by the probes: addresses, interfaces, routes, ICMP, TCP, TLS."""

"""mDNS/DNS-SD: the service-type catalog, safe TXT decoding, device classification, the browser."""

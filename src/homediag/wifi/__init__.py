"""Wi-Fi link facts from each operating system's own tools, one parser module per platform."""

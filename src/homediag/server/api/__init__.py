"""The HTTP API (``/api/v1``): one router module per resource."""

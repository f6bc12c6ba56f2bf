"""HTTP: the aiohttp application, its routes, and egress in the client's wire format."""

"""Device registry, credentials and broker configuration for the council IoT team (issue 5)."""

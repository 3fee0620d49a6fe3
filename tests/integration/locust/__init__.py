"""Locust end-to-end tests: Locust as a subprocess against the real stub."""

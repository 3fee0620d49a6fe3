"""Unit tests of the pure locustfiles modules."""

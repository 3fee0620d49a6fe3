"""target_stub package."""

"""surgebench package."""

"""analytics tasks (being built)."""

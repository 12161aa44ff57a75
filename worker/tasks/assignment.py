"""assignment tasks (being built)."""

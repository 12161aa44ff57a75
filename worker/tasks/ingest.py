"""ingest tasks (being built)."""

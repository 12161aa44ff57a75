"""Alembic migrations; `dcoe db upgrade` applies them."""

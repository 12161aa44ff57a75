"""Apply the Alembic migrations programmatically (used by the CLI and the tests)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

# the migrations folder beside this package (in a checkout and in an installed tree alike):
# located by path, so the adapter imports nothing from the layer above it
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the project's migrations against `database_url`."""
    cfg = Config(str(_MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)

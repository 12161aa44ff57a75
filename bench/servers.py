"""The servers a benchmark runs against: the configured ones, or embedded ones of its own."""
from __future__ import annotations

import os
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent


def servers(name: str) -> tuple[str, str]:
    """(server URL, Redis URL): DATABASE_URL / REDIS_URL when set, else embedded servers under
    var/bench-<name> (DCOE_HOME), which also holds the benchmark's logs."""
    home = Path(os.environ.setdefault("DCOE_HOME", str(ROOT / "var" / f"bench-{name}")))
    home.mkdir(parents=True, exist_ok=True)
    from dcoe import servers

    settings = servers.settings()
    return settings.database_url, settings.redis_url


def fresh_database(server_url: str, name: str, revision: str = "head") -> tuple[str, str]:
    """A new database `name` on the server (dropped first if there), migrated to `revision`:
    (SQLAlchemy URL, libpq DSN)."""
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    from store.migrate import upgrade

    database_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade(database_url, revision)
    return database_url, url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)

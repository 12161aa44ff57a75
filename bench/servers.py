"""The servers a benchmark runs against: the configured ones, or embedded ones of its own."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def servers(name: str) -> tuple[str, str]:
    """(server URL, Redis URL): DATABASE_URL / REDIS_URL when set, else embedded servers under
    var/bench-<name> (DCOE_HOME), which also holds the benchmark's logs."""
    home = Path(os.environ.setdefault("DCOE_HOME", str(ROOT / "var" / f"bench-{name}")))
    home.mkdir(parents=True, exist_ok=True)
    from dcoe import servers

    settings = servers.settings()
    return settings.database_url, settings.redis_url

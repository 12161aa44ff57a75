"""Resolving the servers a process talks to: the configured ones, or the embedded default."""
from __future__ import annotations

import os
from functools import lru_cache

from dcoe.config import Settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    """This process's settings, with DATABASE_URL and REDIS_URL resolved.

    With either unset, the embedded servers under DCOE_HOME are started (or joined) and their
    URLs exported, so every child process of this one uses the same servers.
    """
    current = Settings.from_env()
    if not current.embedded:
        return current
    from dcoe import embedded

    services = embedded.start(
        current.home,
        database=current.database_url is None,
        redis_server=current.redis_url is None,
    )
    database_url = current.database_url or services.database_url
    redis_url = current.redis_url or services.redis_url
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    return current.with_urls(database_url, redis_url)


def redis_client_url(url: str) -> str:
    """The redis-py / limits spelling of a broker URL (kombu says redis+socket:// for sockets)."""
    if url.startswith("redis+socket://"):
        return "unix://" + url[len("redis+socket://"):]
    return url


def limiter_storage_url(url: str) -> str:
    """The `limits` library's spelling of the Redis URL."""
    if url.startswith("redis+socket://"):
        return "redis+unix://" + url[len("redis+socket://"):]
    return url

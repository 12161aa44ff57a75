"""Engines, one per database URL and process; never built at import time."""
from __future__ import annotations

import threading

from sqlalchemy import Engine, create_engine

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(database_url: str, *, jit: bool = True) -> Engine:
    """The process's engine for `database_url` (pre-ping: a restarted server poisons nothing).

    `jit=False` for the web: a request's statement runs in a millisecond or two, and PostgreSQL
    compiles one whose estimate is high (a listing filtered through a subquery per row) for 20-30 ms
    before it starts; the workers' statements over a whole file keep the choice."""
    options = "-c TimeZone=UTC -c plan_cache_mode=force_custom_plan" + ("" if jit else " -c jit=off")
    with _lock:
        engine = _engines.get(options + database_url)
        if engine is None:
            engine = _engines[options + database_url] = create_engine(
                database_url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_recycle=1800,
                hide_parameters=True,  # bound values (emails, comments) never reach a log line
                # every timestamp leaves the database in UTC; an unreachable server fails fast; a
                # statement psycopg has prepared is still planned for its values (a listing's best
                # plan depends on its status, agent or prefix: a generic plan is the trap)
                connect_args={"options": options, "connect_timeout": 5},
            )
        return engine


def dispose_engines() -> None:
    """Forget pooled connections (after fork: a child must not share its parent's sockets)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=False)
        _engines.clear()


def database_answers(engine: Engine) -> bool:
    """True when the database runs a trivial query."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "does not answer"
        return False

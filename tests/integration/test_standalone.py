"""The embedded path end to end: `dcoe standalone` run as a newcomer runs it, used over real HTTP.

No DATABASE_URL / REDIS_URL: the system starts its own PostgreSQL and Redis under DCOE_HOME.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import requests

DCOE = Path(sys.executable).with_name("dcoe")
ADMIN = {"email": "admin@example.com", "password": "password123"}
STOP_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_table() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) of every process on the machine."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # it ended while we looked
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]  # the command name may hold spaces
        table[int(entry.name)] = (int(ppid), state, cmdline)
    return table


def _alive(table, pid) -> bool:
    return pid in table and table[pid][1] != "Z"


class Standalone:
    """One `dcoe standalone` process tree, started and stopped like a user would."""

    def __init__(self, home: Path):
        self.home = home
        self.port, self.flower_port = _free_port(), _free_port()
        self.api = f"http://127.0.0.1:{self.port}"
        self.flower = f"http://127.0.0.1:{self.flower_port}"
        self.proc: subprocess.Popen | None = None
        self.started: dict[int, str] = {}

    def start(self, timeout: float = 180) -> Standalone:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(DCOE_HOME=str(self.home), PORT=str(self.port), FLOWER_PORT=str(self.flower_port),
                   PYTHONUNBUFFERED="1")
        self.log = self.home.parent / f"standalone-{self.port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(DCOE), "standalone"], cwd=self.home.parent, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: self._ready_workers() >= 1, timeout, "/health/ready with a live worker")
        self._wait(lambda: self._answers(self.flower), timeout, "Flower")
        self.started = self.processes()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait(self, check, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"dcoe standalone exited ({self.proc.returncode}) before {what}:\n{self.output()[-4000:]}")
            if check():
                return
            time.sleep(0.5)
        pytest.fail(f"no {what} within {timeout}s:\n{self.output()[-4000:]}")

    def _ready_workers(self) -> int:
        try:
            response = requests.get(f"{self.api}/health/ready", timeout=5)
        except requests.RequestException:
            return 0
        return response.json().get("workers", 0) if response.status_code == 200 else 0

    @staticmethod
    def _answers(url) -> bool:
        try:
            requests.get(url, timeout=5)
            return True
        except requests.RequestException:
            return False

    def processes(self) -> dict[int, str]:
        """pid -> command line of the system: dcoe's descendants, and the servers under its home
        (pg_ctl detaches PostgreSQL from its parent) with their own children."""
        table = _proc_table()
        roots = {self.proc.pid} | {pid for pid, (_, _, cmd) in table.items() if str(self.home) in cmd}
        found, frontier = set(), roots & table.keys()
        while frontier:
            found |= frontier
            frontier = {pid for pid, (ppid, _, _) in table.items() if ppid in frontier} - found
        return {pid: table[pid][2] for pid in found if _alive(table, pid)}

    def login(self) -> dict:
        response = requests.post(f"{self.api}/api/auth/login", json=ADMIN, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def terminate(self) -> float:
        """SIGTERM to dcoe, as `kill` or a process manager would; seconds until all is gone."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        deadline = began + STOP_SECONDS
        while time.monotonic() < deadline:
            table = _proc_table()
            if not any(_alive(table, pid) for pid in self.started) and self.proc.poll() is not None:
                return time.monotonic() - began
            time.sleep(0.2)
        return float("inf")

    def kill_leftovers(self) -> None:
        """After a failure: end what this test started, by pid."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        table = _proc_table()
        for pid in self.started:
            if _alive(table, pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def standalone():
    """Factory of standalone systems sharing one DCOE_HOME (so a second start reuses the data).

    The folder is not under pytest's tmp_path: every pytest session makes that tree private to
    its user again, and the embedded PostgreSQL runs as another user (pgserver's)."""
    folder = Path(tempfile.mkdtemp(prefix="dcoe-standalone-"))
    systems = []

    def make() -> Standalone:
        system = Standalone(folder / "var")
        systems.append(system)
        return system.start()

    yield make
    for system in systems:
        system.kill_leftovers()
    shutil.rmtree(folder, ignore_errors=True)


def _roles(processes: dict[int, str]) -> set[str]:
    marks = {"gunicorn": "web", "-Q ingest": "worker-ingest", "-Q default": "worker-default", " beat ": "beat",
             " flower ": "flower", "redis-server": "redis", "postgres": "postgres"}
    return {role for cmd in processes.values() for mark, role in marks.items() if mark in f" {cmd} "}


def _all_cases(api: str, headers: dict) -> list[dict]:
    cases, cursor = [], None
    while True:
        params = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = requests.get(f"{api}/api/cases", params=params, headers=headers, timeout=30)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 500
        cases += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return cases


def _upload_and_wait(api: str, headers: dict, body: bytes) -> dict:
    response = requests.post(f"{api}/api/cases/upload", data=body, timeout=60,
                             headers=headers | {"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    job_url = api + response.headers["Location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = requests.get(job_url, headers=headers, timeout=10).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"upload job still {job['state']} after 120s")


def test_standalone_serves_the_api_workers_and_flower_then_stops_cleanly(standalone, gen_cases):
    system = standalone()
    assert "admin@example.com" in system.output()
    assert f"http://localhost:{system.port}/api" in system.output()
    assert _roles(system.started) == {"web", "worker-ingest", "worker-default", "beat", "flower", "redis", "postgres"}

    tokens = system.login()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = requests.get(f"{system.api}/api/auth/me", headers=headers, timeout=10).json()
    assert (me["email"], me["role"]) == (ADMIN["email"], "admin")

    assert requests.get(system.flower, timeout=10).status_code == 401
    assert requests.get(system.flower, auth=("admin", "password123"), timeout=10).status_code == 200

    body = gen_cases(2000)
    job = _upload_and_wait(system.api, headers, body)
    assert job["state"] == "succeeded", job
    result = job["result"]
    assert (result["rows_total"], result["rows_inserted"], result["rows_rejected"]) == (2000, 2000, 0)
    expected = {row["case_id"] for row in csv.DictReader(io.StringIO(body.decode()))}
    listed = [case["case_id"] for case in _all_cases(system.api, headers)]
    assert len(listed) == len(expected) == 2000
    assert set(listed) == expected

    assert system.terminate() <= STOP_SECONDS, f"still running: {system.processes()}"
    assert system.proc.returncode == 0
    assert system.processes() == {}


def test_a_second_start_reuses_the_data_and_creates_no_demo_users(standalone):
    first = standalone()
    admin_id = first.login()["user"]["id"]
    assert first.terminate() <= STOP_SECONDS

    second = standalone()
    assert "users already exist; no demo users created" in second.output()
    assert second.login()["user"]["id"] == admin_id
    socket_dir = (second.home / "pg" / "postmaster.pid").read_text().splitlines()[4]  # PostgreSQL's layout
    with psycopg.connect(host=socket_dir, user="postgres", dbname="dcoe") as conn:
        emails = [row[0] for row in conn.execute("SELECT email FROM users ORDER BY id")]
    assert len(emails) == len(set(emails)) == 10
    assert second.terminate() <= STOP_SECONDS

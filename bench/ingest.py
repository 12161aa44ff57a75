"""Benchmark of ingestion through HTTP (issue 2, acceptances 4 and 5).

    python -m bench.ingest [--rows 1000000]

Generates `bench/gen_cases.py N` into a temporary file; migrates a fresh database of its own;
serves the API with gunicorn (2 sync workers, as `dcoe web` does) and runs one Celery worker on
the ingest queue (-c 1, as `dcoe standalone` does); logs in as an admin created through the
domain; times POST /api/cases/upload -> job succeeded for the file, then for the same file again
(every row a refresh), sampling the RSS of every web and worker process meanwhile; and times a
bare COPY of the same file into a table of the same shape (typed, unique case_id, one more
index). Without DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-ingest.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psutil
import psycopg
import requests

from bench import servers as bench_servers
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "dcoe_bench_ingest"
ADMIN, PASSWORD = "bench-admin@example.com", "bench-password"
COLUMNS = "case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region"
MB = 1024 * 1024


def fresh_database(server_url: str, name: str = DATABASE) -> tuple[str, str]:
    """A new, migrated database with the bench admin; (SQLAlchemy URL, libpq DSN)."""
    database_url, dsn = bench_servers.fresh_database(server_url, name)
    from domain import users
    from store.engine import get_engine
    from store.uow import UnitOfWork

    with UnitOfWork(get_engine(database_url)) as uow:
        users.create_user(uow, email=ADMIN, name="Bench Admin", password=PASSWORD, role=users.Role.ADMIN)
    return database_url, dsn


def generate(rows: int, folder: Path) -> Path:
    path = folder / f"cases-{rows}.csv"
    with path.open("wb") as out:
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(rows)], stdout=out, check=True)
    return path


@contextmanager
def system(database_url: str, redis_url: str):
    """gunicorn (2 workers) and a Celery worker on the ingest queue; yields (base URL, pids by role)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING",
               ASSIGN_INTERVAL_SECONDS="0", ANALYTICS_INTERVAL_SECONDS="0")
    log = Path(os.environ["DCOE_HOME"]) / "bench-ingest.log"
    print(f"web and worker output: {log}")
    out = log.open("ab")
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                            "--timeout", "300", "--log-level", "warning", "web:create_app()"],
                           cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q",
                               "ingest,default", "-c", "1", "-n", f"bench-{os.getpid()}@%h", "--loglevel", "WARNING"],
                              cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _ready(base):
            if web.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the system did not start")
            time.sleep(0.3)
        yield base, {"web": web.pid, "worker": worker.pid}
    finally:
        for proc in (web, worker):
            proc.terminate()  # the masters stop their own workers gracefully
        for proc in (web, worker):
            proc.wait(60)
        out.close()


def _ready(base: str) -> bool:
    try:
        response = requests.get(f"{base}/health/ready", timeout=5)
        return response.status_code == 200 and response.json()["workers"] >= 1
    except requests.RequestException:
        return False


class PeakRss(threading.Thread):
    """Samples the RSS of each process of a role (a parent and its children); keeps the peak."""

    def __init__(self, pids: dict[str, int], every: float = 0.05):
        super().__init__(daemon=True)
        self.pids, self.every, self.peak = pids, every, dict.fromkeys(pids, 0)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for role, pid in self.pids.items():
                try:
                    parent = psutil.Process(pid)
                    for proc in [parent, *parent.children(recursive=True)]:
                        self.peak[role] = max(self.peak[role], proc.memory_info().rss)
                except psutil.Error:
                    pass  # a process that just exited
            time.sleep(self.every)

    def stop(self) -> dict[str, int]:
        self._done.set()
        self.join()
        return self.peak


def ingest(base: str, headers: dict, path: Path) -> tuple[float, float, dict]:
    """(seconds POST took, seconds POST -> succeeded, the job)."""
    started = time.perf_counter()
    with path.open("rb") as body:
        response = requests.post(f"{base}/api/cases/upload", data=body, headers={**headers, "Content-Type": "text/csv"},
                                 timeout=600)
    posted = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    job_url = f"{base}/api/jobs/{response.json()['id']}"
    while (job := requests.get(job_url, headers=headers, timeout=30).json())["state"] in ("queued", "running"):
        time.sleep(0.05)
    if job["state"] != "succeeded":
        raise RuntimeError(f"the job ended {job['state']}: {job['error']}")
    return posted, time.perf_counter() - started, job


def bare_copy(dsn: str, path: Path) -> float:
    """Seconds to COPY the file into a typed table with a unique case_id and one more index."""
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE bench_copy (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                     "case_id text NOT NULL UNIQUE, bank_code text NOT NULL, borrower_name text NOT NULL, "
                     "loan_amount numeric(14,2) NOT NULL, due_amount numeric(14,2) NOT NULL, "
                     "days_past_due int NOT NULL, priority case_priority NOT NULL, region text NOT NULL)")
        conn.execute("CREATE INDEX ON bench_copy (days_past_due)")
        conn.commit()
        started = time.perf_counter()
        with path.open("rb") as data, conn.cursor().copy(
                f"COPY bench_copy ({COLUMNS}) FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := data.read(MB):
                copy.write(block)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("ingest")
    database_url, dsn = fresh_database(server_url)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        path = generate(args.rows, Path(folder))
        size = path.stat().st_size
        print(f"{args.rows:,} rows, {size / MB:.1f} MB; load average before: %.2f %.2f %.2f" % os.getloadavg())
        with system(database_url, redis_url) as (base, pids):
            login = requests.post(f"{base}/api/auth/login", json={"email": ADMIN, "password": PASSWORD}, timeout=30)
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            sampler = PeakRss(pids)
            sampler.start()
            first = ingest(base, headers, path)
            second = ingest(base, headers, path)
            peak = sampler.stop()
        copy = bare_copy(dsn, path)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    report(args.rows, copy, first, second, peak)
    if args.json:
        from bench.figures import save

        save(args.json, "ingest", {"rows": args.rows, "file_mb": round(size / MB, 1)}, [
            ("bare COPY (typed, unique case_id + 1 index)", copy, "s"),
            ("upload -> succeeded (new cases)", first[1], "s"),
            ("re-upload -> succeeded (refreshes)", second[1], "s"),
            ("peak RSS of a web process", peak["web"] / MB, "MB"),
            ("peak RSS of the worker", peak["worker"] / MB, "MB")])


def report(rows: int, copy: float, first, second, peak: dict[str, int]) -> None:
    print(f"\n{'measurement':<44}{'seconds':>9}{'rows/s':>12}{'x bare COPY':>13}")
    print(f"{'bare COPY (typed, unique case_id + 1 index)':<44}{copy:>9.2f}{rows / copy:>12,.0f}{1:>13.2f}")
    runs = (("upload -> succeeded (new cases)", first), ("re-upload -> succeeded (refreshes)", second))
    for name, (posted, total, job) in runs:
        print(f"{name:<44}{total:>9.2f}{rows / total:>12,.0f}{total / copy:>13.2f}")
        worked = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        print(f"{'   of which the POST (file stored)':<44}{posted:>9.2f}")
        print(f"{'   of which the worker (started -> finished)':<44}{worked.total_seconds():>9.2f}")
        print(f"{'   result':<44}   {({k: v for k, v in job['result'].items() if k != 'errors_sample'})}")
    print(f"\npeak RSS: web process {peak['web'] / MB:.0f} MB (limit 200), worker process {peak['worker'] / MB:.0f} MB "
          "(limit 300)")


if __name__ == "__main__":
    main()

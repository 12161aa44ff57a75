"""Benchmark of ingestion through HTTP, on books of 0, 1M and 5M cases already stored (issue 15).

    python -m bench.ingest [--rows 1000000] [--book 0] [--book 1000000 ...]   new rows, then again
    python -m bench.ingest --delta --book 0 --book 1000000 --book 5000000     the daily delta

For each book (`bench/books.py`, built once and kept; each run works on a fresh copy) it serves
the API with gunicorn (2 sync workers, as `dcoe web` does) and runs one Celery worker on the
ingest queue (-c 1, as `dcoe standalone` does), logs in as the book's admin and times POST
/api/cases/upload -> job succeeded. Without --delta: a generated file of N new cases
(`bench/gen_cases.py N`, numbered after the book's cases), then the same file again (nothing
changes), sampling the RSS of every web and worker process meanwhile; then the honest reference
of the same run: a bare COPY of the same rows (with their team, which the file does not carry)
into `CREATE TABLE … (LIKE cases_processed INCLUDING ALL)` — the same columns, constraints and
indexes as the real table. With --delta: the 10,000-row delta file (half new, half changed, 5 %
moving team), and as its reference the bare COPY of its rows into such a table. Without
DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-ingest.
"""
from __future__ import annotations

import argparse
import csv
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

from bench import books
from bench import servers as bench_servers
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
ADMIN, PASSWORD = books.ADMIN, books.PASSWORD
COLUMNS = "case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region, team"
MB = 1024 * 1024
DATABASE = "dcoe_bench_ingest"


def fresh_database(server_url: str, name: str = DATABASE) -> tuple[str, str]:
    """A new, migrated database with the bench admin; (SQLAlchemy URL, libpq DSN). (The other
    benchmarks' database; this one works on copies of books.)"""
    database_url, dsn = bench_servers.fresh_database(server_url, name)
    from domain import users
    from store.engine import get_engine
    from store.uow import UnitOfWork

    with UnitOfWork(get_engine(database_url)) as uow:
        users.create_user(uow, email=ADMIN, name="Bench Admin", password=PASSWORD, role=users.Role.ADMIN)
    return database_url, dsn


def generate(rows: int, folder: Path, start: int = 1) -> Path:
    path = folder / f"cases-{rows}-from-{start}.csv"
    with path.open("wb") as out:
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(rows), "--start", str(start)],
                       stdout=out, check=True)
    return path


def with_teams(path: Path) -> Path:
    """The file's rows with the team their DPD routes them to (default bands): what the reference COPYs."""
    from domain.routing import DEFAULT_BANDS, route

    out_path = path.with_suffix(".teams.csv")
    with path.open(newline="") as source, out_path.open("w", newline="") as out:
        rows, writer = csv.reader(source), csv.writer(out, lineterminator="\n")
        writer.writerow([*next(rows), "team"])
        for row in rows:
            writer.writerow([*row, route(int(row[5]), DEFAULT_BANDS).value])
    return out_path


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
    """Seconds to COPY the rows (with their team) into a table LIKE cases_processed INCLUDING ALL."""
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (LIKE cases_processed INCLUDING ALL)")
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


def login(base: str) -> dict:
    response = requests.post(f"{base}/api/auth/login", json={"email": ADMIN, "password": PASSWORD}, timeout=30)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def new_rows(server_url: str, redis_url: str, book: int, rows: int, folder: Path) -> list[tuple[str, float, str]]:
    """N new rows into a copy of the book, then the same file again, then the reference: the figures."""
    path = generate(rows, folder, start=book + 1)
    reference_rows = with_teams(path)
    size = path.stat().st_size
    print(f"\n{rows:,} new rows ({size / MB:.1f} MB) into a book of {book:,}; "
          "load average before: %.2f %.2f %.2f" % os.getloadavg())
    copy_name = f"{books.PREFIX}run"
    database_url, dsn = books.copy_of(server_url, books.book(server_url, book), copy_name)
    try:
        with system(database_url, redis_url) as (base, pids):
            headers = login(base)
            warm_up(base, headers, folder)
            sampler = PeakRss(pids)
            sampler.start()
            first = ingest(base, headers, path)
            second = ingest(base, headers, path)
            peak = sampler.stop()
        copy = bare_copy(dsn, reference_rows)
    finally:
        books.drop(server_url, copy_name)
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    report(rows, copy, [("upload -> succeeded (new cases)", first), ("re-upload -> succeeded (unchanged)", second)])
    print(f"peak RSS: web process {peak['web'] / MB:.0f} MB (limit 200), worker process {peak['worker'] / MB:.0f} MB "
          "(limit 300)")
    on = f" [book {book:,}]"
    return [(REFERENCE + on, copy, "s"), (UPLOAD + on, first[1], "s"),
            ("re-upload -> succeeded (unchanged)" + on, second[1], "s"),
            ("peak RSS of a web process" + on, peak["web"] / MB, "MB"),
            ("peak RSS of the worker" + on, peak["worker"] / MB, "MB"), ("file size", size / MB, "MB")]


def warm_up(base: str, headers: dict, folder: Path) -> None:
    """One upload of one case first: a worker in service has run jobs before (imports, connections,
    compiled statements); the file measured should not pay for the first job of a new process."""
    path = folder / "warm-up.csv"
    path.write_text(",".join(books.HEADER) + "\nWARM-UP-1,HDFC,Warm Up,1.00,1.00,1,Low,North\n")
    ingest(base, headers, path)


def delta(server_url: str, redis_url: str, book: int, folder: Path) -> list[tuple[str, float, str]]:
    """The daily delta into a copy of the book, and the reference: the figures."""
    path = books.delta_file(folder / f"delta-{book}.csv", book)
    copy_name = f"{books.PREFIX}run"
    database_url, dsn = books.copy_of(server_url, books.book(server_url, book), copy_name)
    try:
        with system(database_url, redis_url) as (base, _):
            headers = login(base)
            warm_up(base, headers, folder)
            job = ingest(base, headers, path)
        copy = bare_copy(dsn, with_teams(path))
    finally:
        books.drop(server_url, copy_name)
    print(f"\nthe 10,000-row delta into a book of {book:,}")
    report(10_000, copy, [("delta upload -> succeeded", job)])
    on = f" [book {book:,}]"
    return [("bare COPY of the delta" + on, copy, "s"), ("delta upload -> succeeded" + on, job[1], "s")]


REFERENCE = "bare COPY into LIKE cases_processed INCLUDING ALL"
UPLOAD = "upload -> succeeded (new cases)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--book", type=int, action="append", help="cases already stored (repeatable; default 0)")
    parser.add_argument("--delta", action="store_true", help="the 10,000-row delta file instead of N new rows")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("ingest")
    figures: list = []
    file_mb = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        for book in args.book or [0]:
            if args.delta:
                figures += delta(server_url, redis_url, book, Path(folder))
            else:
                figures += new_rows(server_url, redis_url, book, args.rows, Path(folder))
                file_mb = figures[-1][1]
    if args.json:
        from bench.figures import save

        save(args.json, "ingest", {"rows": 10_000 if args.delta else args.rows, "file_mb": round(file_mb, 1),
                                   "books": args.book or [0]},
             [(name.replace(" [book 0]", ""), value, unit) for name, value, unit in figures])


def report(rows: int, copy: float, runs: list) -> None:
    print(f"\n{'measurement':<52}{'seconds':>9}{'rows/s':>12}{'x reference':>13}")
    print(f"{REFERENCE:<52}{copy:>9.2f}{rows / copy:>12,.0f}{1:>13.2f}")
    for name, (posted, total, job) in runs:
        print(f"{name:<52}{total:>9.2f}{rows / total:>12,.0f}{total / copy:>13.2f}")
        worked = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        print(f"{'   of which the POST (file stored)':<52}{posted:>9.2f}")
        print(f"{'   of which the worker (started -> finished)':<52}{worked.total_seconds():>9.2f}")
        print(f"{'   result':<52}   {({k: v for k, v in job['result'].items() if k != 'errors_sample'})}")


if __name__ == "__main__":
    main()

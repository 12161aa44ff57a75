"""Benchmark of the bank's payments file through HTTP: 1M cases, a 1M-row file, then the same file again.

    python -m bench.payments [--cases 1000000] [--rows 1000000] [--steps]

Migrates a database of its own, COPYs `bench/gen_cases.py N` cases into it (fresh, vacuumed,
checkpointed) and generates `bench/gen_payments.py ROWS` (one payment per case, below its balance,
every tenth paying it in full). Serves the API with gunicorn and one Celery worker on the ingest
queue (bench.ingest.system), then times POST /api/payments/upload -> job succeeded for the file,
then for the same file again (every row a duplicate), sampling the peak RSS of the worker, then
for a 1,000-row file of the next day into the same book (its cost follows its rows, not the book).
The reference, in the same run on freshly reloaded cases: PostgreSQL alone doing the same writes -
a bare COPY of the file into a table shaped like `payments` (LIKE payments INCLUDING ALL, plus the
file's case_id) and one set-based UPDATE of the cases it pays (amount_recovered += amount), in one
transaction.

`--steps` runs the job in this process instead (no HTTP, no worker), for the same three files, and
prints the time of each statement it sends and of the staging (COPY) calls: where a run's time goes.
Without DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-payments.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import psycopg
import requests

from bench.in_process import NoProgress
from bench.ingest import ADMIN, MB, PASSWORD, PeakRss, fresh_database, system
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "dcoe_bench_payments"
SMALL_ROWS = 1000
CASE_COLUMNS = "case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region"

REFERENCE_TABLE = """
    CREATE TABLE bench_payments (LIKE payments INCLUDING ALL);
    ALTER TABLE bench_payments ADD COLUMN case_id text, ALTER COLUMN case_pk DROP NOT NULL,
                               ALTER COLUMN bank_code DROP NOT NULL
"""
REFERENCE_UPDATE = """
    UPDATE cases_processed c SET amount_recovered = coalesce(c.amount_recovered, 0) + b.amount
      FROM bench_payments b WHERE b.case_id = c.case_id
"""




def generate(rows: int, folder: Path, *options: str) -> Path:
    path = folder / f"payments-{rows}{''.join(options)}.csv"
    with path.open("wb") as out:
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_payments.py"), str(rows), *options], stdout=out,
                       check=True)
    return path


def fresh_book(dsn: str, cases: int) -> None:
    """The generated cases (routed by DPD, Pending, unassigned; no payment, promise or history),
    COPYed into emptied tables, vacuumed and checkpointed."""
    from domain.routing import route

    started = time.perf_counter()
    gen = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(cases)], stdout=subprocess.PIPE,
                           text=True)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE payments, promises, contacts, holds, ingest_errors, case_status_history, "
                    "case_assignments, cases_processed RESTART IDENTITY")
        with cur.copy(f"COPY cases_processed ({CASE_COLUMNS}, team) FROM STDIN") as copy:
            for row in csv.reader(gen.stdout):
                if row[0] != "case_id":
                    copy.write_row((*row, route(int(row[5])).value))
    if gen.wait() != 0:
        raise RuntimeError("gen_cases.py failed")
    settle(dsn)
    print(f"loaded {cases:,} cases with COPY in {time.perf_counter() - started:.1f} s")


def settle(dsn: str) -> None:
    """Every timing starts alike: statistics fresh, no dirty pages pending."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed, payments")
        conn.execute("CHECKPOINT")
    os.sync()


def post_file(base: str, headers: dict, path: Path) -> tuple[float, float, dict]:
    """(seconds the POST took, seconds POST -> succeeded, the job)."""
    started = time.perf_counter()
    with path.open("rb") as body:
        response = requests.post(f"{base}/api/payments/upload", data=body, timeout=600,
                                 headers={**headers, "Content-Type": "text/csv"})
    posted = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    job_url = f"{base}/api/jobs/{response.json()['id']}"
    while (job := requests.get(job_url, headers=headers, timeout=30).json())["state"] in ("queued", "running"):
        time.sleep(0.05)
    if job["state"] != "succeeded":
        raise RuntimeError(f"the job ended {job['state']}: {job['error']}")
    return posted, time.perf_counter() - started, job


def reference(dsn: str, path: Path) -> tuple[float, float, int]:
    """PostgreSQL alone: (seconds of the COPY, of the UPDATE, cases updated), one transaction."""
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_payments")
        conn.execute(REFERENCE_TABLE)
        conn.commit()
        settle(dsn)
        started = time.perf_counter()
        with path.open("rb") as data, conn.cursor().copy(
                "COPY bench_payments (case_id, amount, paid_on, reference, method) FROM STDIN "
                "(FORMAT csv, HEADER true)") as copy:
            while block := data.read(MB):
                copy.write(block)
        copied = time.perf_counter()
        updated = conn.execute(REFERENCE_UPDATE).rowcount
        conn.commit()
        done = time.perf_counter()
        conn.execute("DROP TABLE bench_payments")
        conn.commit()
    return copied - started, done - copied, updated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="payments in the file (at most --cases)")
    parser.add_argument("--steps", action="store_true", help="time each statement of an in-process run instead")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("payments")
    database_url, dsn = fresh_database(server_url, DATABASE)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min average, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="bench-payments-") as folder:
        path = generate(args.rows, Path(folder))
        # the next day's file, small: it pays the last cases again (some now beyond their balance)
        small = generate(SMALL_ROWS, Path(folder), "--seed", "8", "--start", str(args.cases - SMALL_ROWS + 1))
        print(f"payments file: {args.rows:,} rows, {path.stat().st_size / MB:.1f} MB")
        fresh_book(dsn, args.cases)
        if args.steps:
            return steps(database_url, dsn, [("the file", path), ("the same file again", path),
                                             (f"a {SMALL_ROWS}-row file of the next day", small)])
        with system(database_url, redis_url) as (base, pids):
            login = requests.post(f"{base}/api/auth/login", json={"email": ADMIN, "password": PASSWORD}, timeout=30)
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            sampler = PeakRss(pids)
            sampler.start()
            first = post_file(base, headers, path)
            settle(dsn)
            second = post_file(base, headers, path)
            peak = sampler.stop()
            settle(dsn)
            little = post_file(base, headers, small)
        fresh_book(dsn, args.cases)
        copy, update, updated = reference(dsn, path)
    print(f"load after: {os.getloadavg()[0]:.2f}")
    ref = copy + update
    print(f"\n{'measurement':<52}{'seconds':>9}{'x reference':>13}")
    print(f"{'reference: bare COPY + set-based UPDATE':<52}{ref:>9.2f}{1:>13.2f}")
    print(f"{'   of which the COPY into (LIKE payments)':<52}{copy:>9.2f}")
    print(f"{f'   of which the UPDATE of the cases ({updated} rows)':<52}{update:>9.2f}")
    for name, (posted, total, job) in (("payments file, POST -> succeeded", first),
                                       ("the same file again, POST -> succeeded", second)):
        worked = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        print(f"{name:<52}{total:>9.2f}{total / ref:>13.2f}")
        print(f"{'   of which the POST (file stored)':<52}{posted:>9.2f}")
        print(f"{'   of which the worker (started -> finished)':<52}{worked.total_seconds():>9.2f}")
        print(f"{'   result':<52}   {({k: v for k, v in job['result'].items() if k != 'errors_sample'})}")
    print(f"{f'a {SMALL_ROWS}-row file into the same book, POST -> succeeded':<52}{little[1]:>9.2f}")
    print(f"{'   result':<52}   {({k: v for k, v in little[2]['result'].items() if k != 'errors_sample'})}")
    print(f"\npeak RSS: worker {peak['worker'] / MB:.0f} MB (target < 300), web process {peak['web'] / MB:.0f} MB")
    print(f"the file / reference {first[1] / ref:.2f} (target <= 2); the same file again costs "
          f"{second[1] / first[1]:.0%} of the first")
    if args.json:
        from bench.figures import save

        save(args.json, "payments", {"cases": args.cases, "rows": args.rows}, [
            ("reference: bare COPY + set-based UPDATE", ref, "s"),
            ("payments file, POST -> succeeded", first[1], "s"),
            ("the same file again, POST -> succeeded", second[1], "s"),
            ("payments file / reference", first[1] / ref, "x"),
            (f"a {SMALL_ROWS}-row file into the same book, POST -> succeeded", little[1], "s"),
            ("peak RSS of the worker", peak["worker"] / MB, "MB")])


# ---- --steps: where an in-process run's time goes -----------------------------------------------

def _timed_statements(seconds: Counter) -> None:
    """Add up the wall time of each statement sent (labelled by its first words) and of each COPY batch."""
    from sqlalchemy import Connection

    from store.payment_files import PaymentFileStore

    def label(statement) -> str:
        words = " ".join(str(statement).split())
        return words[:70]

    for name in ("execute", "exec_driver_sql"):
        method = getattr(Connection, name)

        def wrapper(self, statement, *args, _method=method, **kwargs):
            started = time.perf_counter()
            try:
                return _method(self, statement, *args, **kwargs)
            finally:
                seconds[label(statement)] += time.perf_counter() - started

        setattr(Connection, name, wrapper)
    stage = PaymentFileStore.stage

    def timed_stage(self, rows, _stage=stage):
        started = time.perf_counter()
        try:
            return _stage(self, rows)
        finally:
            seconds["stage: COPY of the batches (main thread)"] += time.perf_counter() - started

    PaymentFileStore.stage = timed_stage


def steps(database_url: str, dsn: str, files: list[tuple[str, Path]]) -> None:
    from domain import ingestion
    from domain.jobs import JobType
    from domain.payment_files import apply_payments_file
    from store.engine import get_engine
    from store.uow import UnitOfWork

    engine = get_engine(database_url)
    with UnitOfWork(engine) as uow:
        admin = uow.connection.exec_driver_sql("SELECT id FROM users").scalar_one()
    seconds: Counter = Counter()
    _timed_statements(seconds)
    for run, path in files:
        with UnitOfWork(engine) as uow, path.open("rb") as body:
            job, _ = ingestion.start_upload(uow, body=body, fmt="csv", filename=path.name, created_by=admin,
                                            enqueue=lambda job: None, chunk_bytes=1 << 20, job_type=JobType.PAYMENTS)
            job = uow.jobs.claim(job.id)
            uow.commit()
        settle(dsn)
        seconds.clear()
        started = time.perf_counter()
        with UnitOfWork(engine) as uow:
            result = apply_payments_file(job, uow, NoProgress())
            uow.commit()
        total = time.perf_counter() - started
        print(f"\n{run}: {total:.2f} s   {({k: v for k, v in result.items() if k != 'errors_sample'})}")
        for name, value in sorted(seconds.items(), key=lambda item: -item[1]):
            if value >= 0.01:
                print(f"  {value:>7.2f} s  {name}")


if __name__ == "__main__":
    main()

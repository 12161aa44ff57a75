"""Where an ingest job's time goes: each step of `ingest_upload`, timed in-process.

    python -m bench.ingest_steps [--rows 1000000 | --delta] [--book 0|1000000|5000000] [--plans]

Stores a file as an upload in a copy of a book (`bench/books.py`: 0, 1M or 5M cases already
stored), then runs `ingest_upload` in this process with a timer around each call the job makes to
its stores: a generated file of new cases (`bench/gen_cases.py N`, numbered after the book's
cases) run twice (new cases, then the same file again: nothing changes), or with `--delta` the
daily delta file (10,000 rows: half new, half changed, 5 % moving team). The figures are wall
seconds of the job's thread; the reader thread parses and checks rows meanwhile, so the batch
steps include any wait for it. `--plans` prints the plan PostgreSQL ran for each statement of the
steps that touch `cases_processed` (auto_explain; not on the embedded server, which has no
contrib modules). Without DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-ingest.
"""
from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import books
from bench.in_process import NoProgress
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
# the job's calls to its stores, in the order it makes them
STEPS = {
    "store.staging.Stager": ["add"],
    "store.ingest.IngestStore": ["finish_staging", "reject_duplicates", "keep_errors", "match_cases",
                                 "lock_moving_cases", "release_moving_cases", "refresh_cases", "insert_cases"],
}
PLANNED = {"match_cases", "lock_moving_cases", "release_moving_cases", "refresh_cases", "insert_cases"}


def timed(seconds: Counter, plans: list | None = None) -> None:
    """Wrap each step so that its wall time adds up in `seconds` (and its plans go to `plans`)."""
    import importlib

    for qualified, names in STEPS.items():
        module, _, cls_name = qualified.rpartition(".")
        cls = getattr(importlib.import_module(module), cls_name)
        for name in names:
            step = getattr(cls, name, None)
            if step is None:
                continue

            @functools.wraps(step)
            def wrapper(self, *args, _step=step, _name=name, **kwargs):
                explain = plans is not None and _name in PLANNED
                if explain:
                    self.conn.exec_driver_sql("SET auto_explain.log_min_duration = 0")
                    plans.append(f"--- {_name}")
                started = time.perf_counter()
                try:
                    return _step(self, *args, **kwargs)
                finally:
                    seconds[_name] += time.perf_counter() - started
                    if explain:
                        self.conn.exec_driver_sql("SET auto_explain.log_min_duration = -1")

            setattr(cls, name, wrapper)


def generate(rows: int, start: int, folder: Path) -> Path:
    path = folder / f"cases-{rows}-from-{start}.csv"
    with path.open("wb") as out:
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(rows), "--start", str(start)],
                       stdout=out, check=True)
    return path


def run_file(engine, path: Path, admin: int, plans: list | None) -> tuple[float, dict]:
    """Store `path` as an upload and run its job in this process: (seconds, result)."""
    from domain import ingestion
    from domain.jobs import JobState
    from store.uow import UnitOfWork

    with UnitOfWork(engine) as uow, path.open("rb") as body:
        job, _ = ingestion.start_upload(uow, body=body, fmt="csv", filename=path.name, created_by=admin,
                                        enqueue=lambda job: None, chunk_bytes=1 << 20)
    started = time.perf_counter()
    with UnitOfWork(engine) as uow:
        if plans is not None:
            uow.connection.exec_driver_sql("LOAD 'auto_explain'")
            uow.connection.exec_driver_sql("SET auto_explain.log_level = 'notice'")
            uow.connection.exec_driver_sql("SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on")
            uow.connection.exec_driver_sql("SET auto_explain.log_min_duration = -1")
            uow.connection.connection.driver_connection.add_notice_handler(
                lambda diag: plans.append(diag.message_primary))
        result = ingestion.ingest_upload(job, uow, NoProgress())
        uow.jobs.finish(job.id, JobState.SUCCEEDED, result=result)
        uow.commit()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--delta", action="store_true", help="the 10,000-row daily delta instead")
    parser.add_argument("--book", type=int, default=0, help="cases already stored (a book of bench/books.py)")
    parser.add_argument("--plans", action="store_true", help="print the plans of the statements on cases")
    args = parser.parse_args()
    from store.engine import dispose_engines, get_engine
    from store.uow import UnitOfWork

    server_url, _ = servers("ingest")
    copy = f"{books.PREFIX}steps"
    database_url, _ = books.copy_of(server_url, books.book(server_url, args.book), copy)
    engine = get_engine(database_url)
    seconds: Counter = Counter()
    plans: list | None = [] if args.plans else None
    timed(seconds, plans)
    with UnitOfWork(engine) as uow:
        admin = uow.connection.exec_driver_sql("SELECT id FROM users WHERE role = 'admin'").scalar_one()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-steps-") as folder:
            if args.delta:
                path = books.delta_file(Path(folder) / "delta.csv", args.book)
                runs = [(f"the 10,000-row delta into a book of {args.book:,}", path)]
            else:
                path = generate(args.rows, args.book + 1, Path(folder))
                runs = [(f"{args.rows:,} new rows into a book of {args.book:,}", path),
                        ("the same file again", path)]
            for label, file in runs:
                seconds.clear()
                total, result = run_file(engine, file, admin, plans)
                print(f"\n{label}: {total:.2f} s  "
                      f"{ {k: v for k, v in result.items() if k != 'errors_sample'} }")
                for name, value in seconds.items():
                    print(f"  {name:<24}{value:>8.3f} s")
                if plans:
                    print("\n".join(plans))
                    plans.clear()
    finally:
        engine.dispose()
        dispose_engines()
        books.drop(server_url, copy)


if __name__ == "__main__":
    main()

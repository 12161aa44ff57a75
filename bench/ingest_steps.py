"""Where an ingest job's time goes: each step of `ingest_upload`, timed in-process.

    python -m bench.ingest_steps [--rows 1000000]

Generates `bench/gen_cases.py N`, migrates a fresh database of its own, stores the file as an
upload, then runs `ingest_upload` twice in this process (new cases, then the same file again: all
refreshes), with a timer around each call the job makes to its stores. The figures are wall
seconds of the job's thread; the reader thread parses and checks rows meanwhile, so the batch
steps include any wait for it. Without DATABASE_URL/REDIS_URL it runs embedded servers under
var/bench-ingest.
"""
from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.ingest import fresh_database, generate
from bench.servers import servers

# the job's calls to its stores, in the order it makes them
STEPS = {
    "store.staging.Stager": ["add"],
    "store.ingest.IngestStore": ["reject_duplicates", "keep_errors", "lock_moving_cases",
                                        "release_moving_cases", "refresh_cases", "insert_cases"],
}


class _Progress:
    def advance(self, done: int, *, force: bool = False) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass


def timed(seconds: Counter) -> None:
    """Wrap each step so that its wall time adds up in `seconds`."""
    import importlib

    for qualified, names in STEPS.items():
        module, _, cls_name = qualified.rpartition(".")
        cls = getattr(importlib.import_module(module), cls_name)
        for name in names:
            step = getattr(cls, name)

            @functools.wraps(step)
            def wrapper(*args, _step=step, _name=name, **kwargs):
                started = time.perf_counter()
                try:
                    return _step(*args, **kwargs)
                finally:
                    seconds[_name] += time.perf_counter() - started

            setattr(cls, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    from domain import ingestion
    from store.engine import get_engine
    from store.uow import UnitOfWork

    server_url, _ = servers("ingest")
    database_url, _ = fresh_database(server_url)
    engine = get_engine(database_url)
    seconds: Counter = Counter()
    timed(seconds)
    with UnitOfWork(engine) as uow:
        admin = uow.connection.exec_driver_sql("SELECT id FROM users").scalar_one()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-steps-") as folder:
        path = generate(args.rows, Path(folder))
        for run in ("new cases", "the same file again"):
            with UnitOfWork(engine) as uow, path.open("rb") as body:
                job, _ = ingestion.start_upload(uow, body=body, fmt="csv", filename=path.name, created_by=admin,
                                                enqueue=lambda job: None, chunk_bytes=1 << 20)
            seconds.clear()
            started = time.perf_counter()
            with UnitOfWork(engine) as uow:
                ingestion.ingest_upload(job, uow, _Progress())
                uow.commit()
            total = time.perf_counter() - started
            print(f"\n{args.rows:,} rows, {run}: {total:.2f} s")
            for name, value in seconds.items():
                print(f"  {name:<24}{value:>8.2f} s")


if __name__ == "__main__":
    main()

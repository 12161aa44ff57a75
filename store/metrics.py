"""The figures /metrics reports about jobs, read from the jobs table when Prometheus scrapes.

Reading them from PostgreSQL, rather than counting in each process, makes them the same whichever
web process answers the scrape and whichever worker ran the job; the cost is one pass over the
jobs table per scrape (see docs/operations-metrics.md).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Connection, Float, and_, func, select

from domain.jobs import JobState, JobType
from store.tables import jobs


@dataclass(frozen=True)
class Durations:
    """A histogram of job run times: cumulative counts per upper bound, their sum and count."""

    buckets: tuple[int, ...]
    seconds: float
    count: int


@dataclass(frozen=True)
class JobFigures:
    jobs: dict[tuple[str, str], int]  # (type, state) -> how many
    durations: dict[tuple[str, str], Durations]  # (type, state) -> run times, of finished jobs
    rows_loaded: int  # inserted or refreshed by succeeded ingest jobs
    rows_rejected: int  # rejected rows reported by succeeded ingest jobs


def job_figures(conn: Connection, bounds: tuple[float, ...]) -> JobFigures:
    """Jobs by type and state, run times of finished jobs against `bounds`, and ingested rows."""
    run_time = func.extract("epoch", jobs.c.finished_at - jobs.c.started_at).cast(Float)
    ingested = and_(jobs.c.type == JobType.INGEST.value, jobs.c.state == JobState.SUCCEEDED.value)

    def result_count(key: str):
        return jobs.c.result[key].astext.cast(BigInteger)

    loaded_rows = result_count("rows_inserted") + result_count("rows_updated")
    query = select(
        jobs.c.type, jobs.c.state, func.count().label("jobs"),
        func.count(run_time).label("timed"), func.coalesce(func.sum(run_time), 0.0).label("seconds"),
        func.coalesce(func.sum(loaded_rows).filter(ingested), 0).label("loaded"),
        func.coalesce(func.sum(result_count("rows_rejected")).filter(ingested), 0).label("rejected"),
        *(func.count().filter(run_time <= bound).label(f"le_{i}") for i, bound in enumerate(bounds)),
    ).group_by(jobs.c.type, jobs.c.state)
    counts, durations, loaded, rejected = {}, {}, 0, 0
    for row in conn.execute(query).mappings():
        key = (row["type"], row["state"])
        counts[key] = row["jobs"]
        if row["timed"]:
            buckets = tuple(row[f"le_{i}"] for i in range(len(bounds)))
            durations[key] = Durations(buckets, float(row["seconds"]), row["timed"])
        loaded += row["loaded"]
        rejected += row["rejected"]
    return JobFigures(counts, durations, int(loaded), int(rejected))

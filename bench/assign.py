"""Benchmark of an assignment run over N unassigned cases (issue 4, acceptance 3).

    python -m bench.assign [--cases 1000000] [--agents 5]

Loads N generated cases (bench/gen_cases.py, all Pending and unassigned) with COPY into a database
of its own, creates an admin and --agents agents per team, serves the API with gunicorn, runs one
Celery worker, and times POST /api/cases/assign → job `succeeded` (polled every 50 ms), sampling
the worker's peak RSS meanwhile. Then it
reloads the same cases and times, on the database alone, in a fresh state each time:
  - the bare set-based UPDATE of the same rows (assigned_to, status, version, updated_at) — the
    reference of the acceptance criterion;
  - the same writes as the run done by one SQL statement (round-robin by a window function, the
    UPDATE, one case_assignments row per case) — what the audit trail costs.
Without DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-assign.
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import requests
from sqlalchemy.engine import make_url

from bench.ingest import PeakRss
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "dcoe_bench_assign"
PASSWORD = "bench-password"
ROLES = {"call_center": "call_center_agent", "field": "field_agent", "legal": "legal_team"}

BARE_UPDATE = """
    UPDATE cases_processed c
       SET assigned_to = a.ids[mod(c.id, cardinality(a.ids)) + 1], status = 'In Progress',
           version = c.version + 1, updated_at = statement_timestamp()
      FROM bench_agents a
     WHERE a.team = c.team AND c.assigned_to IS NULL AND c.status <> 'Resolved'
"""

SAME_WRITES_IN_SQL = """
    WITH ranked AS (
        SELECT id, team, status, row_number() OVER (
            PARTITION BY team ORDER BY priority DESC, due_amount DESC, id) - 1 AS k
        FROM cases_processed WHERE assigned_to IS NULL AND status <> 'Resolved'
    ), assigned AS (
        UPDATE cases_processed c
           SET assigned_to = a.ids[mod(r.k, cardinality(a.ids)) + 1], status = 'In Progress',
               version = c.version + 1, updated_at = statement_timestamp()
          FROM ranked r JOIN bench_agents a ON a.team = r.team
         WHERE c.id = r.id
        RETURNING c.id, c.assigned_to, r.status AS status_before
    ), recorded AS (
        INSERT INTO case_assignments (case_pk, assigned_to, assigned_by, status_from, status_to)
        SELECT id, assigned_to, %(admin)s, status_before, 'In Progress' FROM assigned
    )
    SELECT count(*) FROM assigned
"""


def create_database(server_url: str) -> tuple[str, str]:
    """A fresh, migrated bench database: (SQLAlchemy URL, libpq DSN)."""
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    from store.migrate import upgrade

    database_url = url.set(database=DATABASE).render_as_string(hide_password=False)
    upgrade(database_url)
    return database_url, url.set(drivername="postgresql", database=DATABASE).render_as_string(hide_password=False)


def create_users(database_url: str, per_team: int) -> dict[str, list[int]]:
    """The admin and `per_team` agents per team; the agents' ids by team."""
    from domain import users
    from store.engine import get_engine
    from store.uow import UnitOfWork

    agents: dict[str, list[int]] = {}
    with UnitOfWork(get_engine(database_url)) as uow:
        users.create_user(uow, email="bench-admin@example.com", name="Bench Admin", password=PASSWORD,
                          role=users.Role.ADMIN)
        for team, role in ROLES.items():
            for k in range(per_team):
                user = users.create_user(uow, email=f"bench-{team}-{k}@example.com", name=f"{team} {k}",
                                         password=PASSWORD, role=users.Role(role))
                agents.setdefault(team, []).append(user.id)
    return agents


def load_cases(dsn: str, n: int) -> None:
    """Empty the case tables, COPY the generator's N rows (routed by DPD, Pending, unassigned), vacuum."""
    from domain.routing import route

    started = time.perf_counter()
    gen = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(n)], stdout=subprocess.PIPE,
                           text=True)
    columns = "case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region, team"
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE payments, promises, contacts, holds, case_status_history, case_assignments, "
                    "cases_processed, team_rotation RESTART IDENTITY")
        with cur.copy(f"COPY cases_processed ({columns}) FROM STDIN") as copy:
            for row in csv.DictReader(gen.stdout):
                dpd = int(row["days_past_due"])
                copy.write_row((row["case_id"], row["bank_code"], row["borrower_name"], row["loan_amount"],
                                row["due_amount"], dpd, row["priority"], row["region"], route(dpd).value))
    if gen.wait() != 0:
        raise RuntimeError("gen_cases.py failed")
    settle(dsn)
    print(f"loaded {n:,} unassigned cases with COPY in {time.perf_counter() - started:.1f} s")


def settle(dsn: str) -> None:
    """Every timing starts from the same state: statistics fresh, no dirty pages pending (in
    PostgreSQL's buffers, nor in the system's, whose writeback would otherwise run during the
    next timing)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed")
        conn.execute("CHECKPOINT")
    os.sync()


@contextmanager
def worker(database_url: str, redis_url: str):
    """One Celery worker on the default queue (where assign jobs go), beat-free."""
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, ASSIGN_INTERVAL_SECONDS="0",
               ANALYTICS_INTERVAL_SECONDS="0", LOG_LEVEL="WARNING")
    log = open(Path(os.environ["DCOE_HOME"]) / "worker.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q", "default",
                             "-c", "1", "-n", f"bench-assign-{os.getpid()}@%h", "--loglevel", "WARNING",
                             "--without-gossip", "--without-mingle"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        from celery import Celery

        probe = Celery(broker=redis_url)
        deadline = time.monotonic() + 60
        while not probe.control.ping(timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not start")
        yield proc.pid
    finally:
        proc.terminate()  # the master alone: a warm shutdown that lets its pool finish
        proc.wait(60)
        log.close()


def timed_run(base: str) -> tuple[float, dict]:
    """POST /api/cases/assign → succeeded, in seconds, and the finished job."""
    login = requests.post(f"{base}/api/auth/login", json={"email": "bench-admin@example.com", "password": PASSWORD},
                          timeout=30)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    started = time.perf_counter()
    response = requests.post(f"{base}/api/cases/assign", json={}, headers=headers, timeout=30)
    if response.status_code != 202:
        raise RuntimeError(f"POST /api/cases/assign: {response.status_code} {response.text[:300]}")
    location = f"{base}{response.headers['Location']}"
    while True:
        job = requests.get(location, headers=headers, timeout=30).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return time.perf_counter() - started, job
        time.sleep(0.05)


def timed_sql(dsn: str, sql: str, agents: dict[str, list[int]], params: dict | None = None) -> tuple[float, int]:
    """One statement on the database alone, committed: (seconds, rows it reports)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TEMP TABLE bench_agents (team team PRIMARY KEY, ids bigint[])")
        conn.cursor().executemany("INSERT INTO bench_agents VALUES (%s, %s)", list(agents.items()))
        conn.execute("SET work_mem = '256MB'")  # as the run does for its own statement
        started = time.perf_counter()
        cur = conn.execute(sql, params)
        rows = cur.fetchone()[0] if cur.description else cur.rowcount
        conn.commit()
        return time.perf_counter() - started, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=5, help="agents per team")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    from bench.cases import gunicorn

    server_url, redis_url = servers("assign")
    database_url, dsn = create_database(server_url)
    agents = create_users(database_url, args.agents)
    print(f"load before: {os.getloadavg()[0]:.2f} (1 min average, {os.cpu_count()} cores)")
    load_cases(dsn, args.cases)
    with gunicorn(database_url, redis_url) as base, worker(database_url, redis_url) as worker_pid:
        sampler = PeakRss({"worker": worker_pid})
        sampler.start()
        elapsed, job = timed_run(base)
        worker_rss = sampler.stop()["worker"] / 2**20
    if job["state"] != "succeeded" or job["result"]["assigned"] != args.cases:
        raise RuntimeError(f"the run did not assign every case: {job}")
    print(f"assignment run, POST → succeeded:      {elapsed:6.1f} s   result {job['result']['by_team']}")
    print(f"peak RSS of the worker during the run:  {worker_rss:6.0f} MB")

    load_cases(dsn, args.cases)
    bare, rows = timed_sql(dsn, BARE_UPDATE, agents)
    print(f"bare set-based UPDATE of the same rows: {bare:6.1f} s   ({rows:,} rows)")
    load_cases(dsn, args.cases)
    with psycopg.connect(dsn) as conn:
        admin = conn.execute("SELECT id FROM users WHERE role = 'admin'").fetchone()[0]
    same, rows = timed_sql(dsn, SAME_WRITES_IN_SQL, agents, {"admin": admin})
    print(f"the run's writes in one SQL statement:  {same:6.1f} s   ({rows:,} cases)")
    print(f"ratio run / bare UPDATE: {elapsed / bare:.2f}    run / same writes in SQL: {elapsed / same:.2f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    if args.json:
        from bench.figures import save

        save(args.json, "assign", {"cases": args.cases, "agents_per_team": args.agents}, [
            ("assignment run, POST -> succeeded", elapsed, "s"),
            ("bare set-based UPDATE of the same rows", bare, "s"),
            ("the run's writes in one SQL statement", same, "s"),
            ("run / bare UPDATE", elapsed / bare, "x"),
            ("peak RSS of the worker during the run", worker_rss, "MB")])


if __name__ == "__main__":
    main()

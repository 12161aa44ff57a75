"""Books of cases already stored, for the ingestion benchmarks' book-size axis (0, 1M, 5M cases).

    python -m bench.books 5000000      # build (or find) the book database of 5M cases

A book is a database `bench_ingest_book_<N>` migrated to head, with an admin, two agents per team
and N cases `CASE-00000001` … numbered like `bench/gen_cases.py`'s, 40 % of them assigned (In
Progress, an active assignment each), 5 % Resolved, the rest Pending. Built once by SQL (a 5M book
takes minutes) and kept; each run works on a copy (`CREATE DATABASE … TEMPLATE`), so runs start
alike. `delta_file` writes the daily file the issue asks for: half new cases, half changed values,
5 % of all rows moving team; its values follow from the case number alone (`_dpd` mirrors the
book's SQL), so the same book always gets the same file.
"""
from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.servers import fresh_database, servers

PREFIX = "bench_ingest_book_"
AGENTS = {"call_center": "call_center_agent", "field": "field_agent", "legal": "legal_team"}
ADMIN, PASSWORD = "bench-admin@example.com", "bench-password"
BANKS = ["HDFC", "ICICI", "SBI", "AXIS", "KOTAK", "YESB", "PNB", "BOB", "IDFC", "INDUS"]
REGIONS = ["North", "South", "East", "West", "Central"]
PRIORITIES = ["Low", "Medium", "High", "Critical"]
HEADER = ["case_id", "bank_code", "borrower_name", "loan_amount", "due_amount", "days_past_due", "priority", "region"]

# A case's days past due from its number: 55 % early (1-30), 30 % field (31-90), 15 % legal.
_DPD_SQL = """CASE WHEN (i * 37) % 100 < 55 THEN 1 + (i * 31) % 30
                   WHEN (i * 37) % 100 < 85 THEN 31 + (i * 43) % 60
                   ELSE 91 + (i * 41) % 630 END"""


def _dpd(i: int) -> int:
    bucket = (i * 37) % 100
    if bucket < 55:
        return 1 + (i * 31) % 30
    if bucket < 85:
        return 31 + (i * 43) % 60
    return 91 + (i * 41) % 630


def _team(dpd: int) -> str:
    return "call_center" if dpd <= 30 else "field" if dpd <= 90 else "legal"


def _fill(cases: int) -> str:
    return f"""
    WITH agents AS (SELECT team, array_agg(id ORDER BY id) AS ids FROM (
                      SELECT id, CASE role WHEN 'call_center_agent' THEN 'call_center' WHEN 'field_agent' THEN 'field'
                                 ELSE 'legal' END::team AS team FROM users WHERE role <> 'admin') a GROUP BY team),
    numbered AS (SELECT i, {_DPD_SQL} AS dpd FROM generate_series(1::bigint, {cases}) i),
    routed AS (SELECT i, dpd, CASE WHEN dpd <= 30 THEN 'call_center' WHEN dpd <= 90 THEN 'field'
                                   ELSE 'legal' END::team AS team FROM numbered)
    INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due,
                                 priority, region, team, status, assigned_to, resolved_at, amount_recovered)
    SELECT 'CASE-' || lpad(i::text, 8, '0'),
           (ARRAY{BANKS!r})[1 + i % 10],
           'Borrower ' || i,
           1000 + (i * 7919) % 99000 + (i % 100) / 100.0,
           100 + (i * 104729) % 9900 + (i % 97) / 100.0,
           dpd,
           (ARRAY{PRIORITIES!r})[1 + (i * 13) % 4]::case_priority,
           (ARRAY{REGIONS!r})[1 + (i * 7) % 5],
           r.team,
           CASE WHEN i % 20 = 19 THEN 'Resolved' WHEN i % 5 < 2 THEN 'In Progress' ELSE 'Pending' END::case_status,
           CASE WHEN i % 20 = 19 OR i % 5 < 2 THEN a.ids[1 + i % 2] END,
           CASE WHEN i % 20 = 19 THEN now() END,
           CASE WHEN i % 20 = 19 THEN 100 END
    FROM routed r JOIN agents a USING (team)
    ORDER BY i
    """


_ASSIGNMENTS = """
    INSERT INTO case_assignments (case_pk, assigned_to, assigned_by, assigned_at, status_from, status_to)
    SELECT id, assigned_to, NULL, created_at, 'Pending', 'In Progress' FROM cases_processed
    WHERE assigned_to IS NOT NULL AND status <> 'Resolved'
"""


def admin_dsn(server_url: str) -> str:
    return make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _exists(server_url: str, name: str) -> bool:
    with psycopg.connect(admin_dsn(server_url), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def book(server_url: str, cases: int) -> str:
    """The name of the book database of `cases` cases, built now if it is not there yet."""
    name = f"{PREFIX}{cases}"
    if _exists(server_url, name):
        from store.migrate import upgrade

        upgrade(make_url(server_url).set(database=name).render_as_string(hide_password=False))  # kept at head
        return name
    building = f"{name}_building"
    started = time.perf_counter()
    database_url, dsn = fresh_database(server_url, building)
    from domain import users
    from store.engine import dispose_engines, get_engine
    from store.uow import UnitOfWork

    with UnitOfWork(get_engine(database_url)) as uow:
        users.create_user(uow, email=ADMIN, name="Bench Admin", password=PASSWORD, role=users.Role.ADMIN)
        for team, role in AGENTS.items():
            for n in (1, 2):
                users.create_user(uow, email=f"{team}-{n}@example.com", name=f"{team} agent {n}",
                                  password=PASSWORD, role=users.Role(role))
    dispose_engines()
    with psycopg.connect(dsn) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        if cases:
            conn.execute(_fill(cases))
            conn.execute(_ASSIGNMENTS)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(admin_dsn(server_url), autocommit=True) as conn:
        # the migration's engine may still hold an idle connection to it
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (building,))
        conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    print(f"built {name} ({cases:,} cases) in {time.perf_counter() - started:.0f} s")
    return name


def copy_of(server_url: str, book_name: str, name: str) -> tuple[str, str]:
    """A fresh copy `name` of a book database: (SQLAlchemy URL, libpq DSN)."""
    with psycopg.connect(admin_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (book_name,))
        # FILE_COPY: the copy's files are copied, not written through the WAL (WAL_LOG, the default
        # since PostgreSQL 15, would log a 5M book's 1.4 GB and set off checkpoints during the run)
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{book_name}" STRATEGY FILE_COPY')
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), admin_dsn(url.render_as_string(hide_password=False))


def drop(server_url: str, name: str) -> None:
    with psycopg.connect(admin_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delta_file(path: Path, book_cases: int, rows: int = 10_000) -> Path:
    """The daily delta into a book of `book_cases`: half new cases, half stored ones with changed
    values (spread over the whole book), and 5 % of all rows moving team. Into an empty book, every
    row is new (the same case numbers as the 1M book's delta)."""
    changed_base = book_cases or 1_000_000
    half = rows // 2
    step = max(changed_base // half, 1)
    moving = rows // 20
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        for k in range(half):
            i = 1 + k * step  # a stored case (or, into an empty book, a new one)
            dpd = _dpd(i)
            if k < moving:  # moves to another band: the next band's first day, or back to call_center
                dpd = {"call_center": 45, "field": 120, "legal": 10}[_team(dpd)]
            else:  # stays in its band, with new amounts
                dpd = dpd + 1 if _team(dpd + 1) == _team(dpd) else dpd - 1
            writer.writerow([f"CASE-{i:08d}", BANKS[i % 10], f"Borrower {i}", f"{2000 + i % 5000}.50",
                             f"{300 + i % 700}.25", dpd, PRIORITIES[(i * 13 + 1) % 4], REGIONS[(i * 7) % 5]])
        for k in range(rows - half):
            i = changed_base + 1 + k
            dpd = _dpd(i)
            writer.writerow([f"CASE-{i:08d}", BANKS[i % 10], f"Borrower {i}", f"{1000 + i % 9000}.00",
                             f"{100 + i % 900}.75", dpd, PRIORITIES[i % 4], REGIONS[i % 5]])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=int, nargs="+")
    args = parser.parse_args()
    server_url, _ = servers("ingest")
    for cases in args.cases:
        print(book(server_url, cases))


if __name__ == "__main__":
    main()

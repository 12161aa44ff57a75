"""A working book of N cases for the listing and operations-day benchmarks (bench/lists.py, bench/day.py).

The cases are bench/gen_cases.py's (`--borrowers`: borrower_ref, time zones, accented names),
placed over a year in case order, with what a book that has been worked looks like:

- 150 agents, 50 per team; an admin. Password: PASSWORD.
- the newest 2% of cases arrived since the last assignment run (Pending, unassigned), and 1% of
  the others were released (an agent left, a refresh moved them to another team): Pending,
  unassigned;
- every other case is assigned round-robin within its team: Resolved with a chance growing with
  its age (up to 45%), Escalated 8%, In Progress otherwise; `updated_at` between its placement and
  now, skewed towards now; a resolved case recovered its due amount;
- promises on 8% of the assigned cases: open 3% (never on a resolved case), kept 2.5%, broken
  1.5%, partial 1%.

The book is built at schema 0005, then migrated to head, so the run also times the list indexes'
build (migration 0008) on a full table. It is kept in `bench_lists_<N>` for later runs.
"""
from __future__ import annotations

import csv
import itertools
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.servers import fresh_database
from store.holds import held_sql

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
AGENTS_PER_TEAM = 50
ROLES = {"call_center": "call_center_agent", "field": "field_agent", "legal": "legal_team"}
NEW_SHARE, RELEASED_SHARE = 0.02, 0.01
COLUMNS = ("case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region, "
           "borrower_ref, timezone, team, status, assigned_to, amount_recovered, created_at, updated_at, resolved_at")


def database_name(n: int) -> str:
    return f"bench_lists_{n}"


def build_book(server_url: str, n: int, *, reuse: bool) -> str:
    """The SQLAlchemy URL of a database holding the book of N cases (built unless kept and reused)."""
    url = make_url(server_url).set(drivername="postgresql+psycopg", database=database_name(n))
    database_url = url.render_as_string(hide_password=False)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    if reuse and _complete(dsn, n):
        print(f"reusing {database_name(n)} ({n:,} cases)")
        from store.migrate import upgrade

        upgrade(database_url)  # a kept book follows the schema
        return database_url
    started = time.perf_counter()
    database_url, dsn = fresh_database(server_url, database_name(n), revision="0005")
    with psycopg.connect(dsn) as conn:
        agents = _users(conn)
        _cases(conn, n, agents)
        _promises(conn)
        conn.commit()
    print(f"loaded {n:,} cases at schema 0005 in {time.perf_counter() - started:.0f} s", flush=True)
    from store.migrate import upgrade

    started = time.perf_counter()
    upgrade(database_url)
    print(f"migrated to head (the list indexes of 0008 built on {n:,} cases) in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _holds(conn)
        for table in ("cases_processed", "case_assignments", "promises", "users", "holds"):
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CREATE TABLE bench_book (cases bigint NOT NULL)")
        conn.execute("INSERT INTO bench_book VALUES (%s)", (n,))
    return database_url


def _complete(dsn: str, n: int) -> bool:
    try:
        with psycopg.connect(dsn) as conn:
            return conn.execute("SELECT cases FROM bench_book").fetchone() == (n,)
    except psycopg.Error:
        return False


def _users(conn) -> dict[str, list[int]]:
    """The admin and the agents (one password hash for all: hashing 151 times proves nothing)."""
    from domain.security import hash_password

    digest, agents = hash_password(PASSWORD), {}
    conn.execute("INSERT INTO users (email, name, password_hash, role) VALUES (%s, %s, %s, 'admin')",
                 ("bench-admin@example.com", "Bench Admin", digest))
    for team, role in ROLES.items():
        for k in range(AGENTS_PER_TEAM):
            agents.setdefault(team, []).append(conn.execute(
                "INSERT INTO users (email, name, password_hash, role) VALUES (%s, %s, %s, %s) RETURNING id",
                (f"bench-{team}-{k}@example.com", f"{team} agent {k}", digest, role)).fetchone()[0])
    return agents


def _cases(conn, n: int, agents: dict[str, list[int]]) -> None:
    from domain.routing import route

    rnd, now = random.Random(14), datetime.now(UTC)
    rotation = {team: itertools.cycle(ids) for team, ids in agents.items()}
    gen = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(n), "--borrowers"],
                           stdout=subprocess.PIPE, text=True)
    with conn.cursor() as cur, cur.copy(f"COPY cases_processed ({COLUMNS}) FROM STDIN") as copy:
        for k, row in enumerate(csv.DictReader(gen.stdout)):
            age = 1 - k / n  # the first cases are a year old
            created = now - timedelta(days=365 * age, seconds=rnd.random() * 60)
            team = route(int(row["days_past_due"])).value
            agent, status, updated, recovered, resolved = None, "Pending", created, None, None
            if k < n * (1 - NEW_SHARE) and rnd.random() >= RELEASED_SHARE:
                agent = next(rotation[team])
                roll = rnd.random()
                status = "Resolved" if roll < 0.45 * age else "Escalated" if roll < 0.45 * age + 0.08 else "In Progress"
                updated = now - (now - created) * rnd.random() ** 2
                if status == "Resolved":
                    recovered, resolved = row["due_amount"], updated
            copy.write_row((row["case_id"], row["bank_code"], row["borrower_name"], row["loan_amount"],
                            row["due_amount"], int(row["days_past_due"]), row["priority"], row["region"],
                            row["borrower_ref"], row["timezone"], team, status, agent, recovered, created, updated,
                            resolved))
    if gen.wait() != 0:
        raise RuntimeError("gen_cases.py failed")
    conn.execute("INSERT INTO case_assignments (case_pk, assigned_to, assigned_at, status_from, status_to) "
                 "SELECT id, assigned_to, created_at + interval '1 hour', 'Pending', 'In Progress' "
                 "FROM cases_processed WHERE assigned_to IS NOT NULL")


def _promises(conn) -> None:
    """Promises on 8% of the assigned cases, by a hash of the id (the same cases every build)."""
    conn.execute("""
        INSERT INTO promises (case_pk, amount, due_date, status, paid, created_by, created_at, closed_at)
        SELECT id, round(due_amount / 4, 2) + 1, (updated_at + interval '14 days')::date, promise, paid,
               assigned_to, updated_at, CASE WHEN promise = 'open' THEN NULL ELSE updated_at + interval '16 days' END
        FROM (
            SELECT c.*, CASE WHEN b < 30 THEN 'open' WHEN b < 55 THEN 'kept' WHEN b < 70 THEN 'broken'
                             ELSE 'partial' END::promise_status AS promise,
                   CASE WHEN b < 30 OR (b >= 55 AND b < 70) THEN 0 WHEN b < 55 THEN round(due_amount / 4, 2) + 1
                        ELSE round(due_amount / 8, 2) END AS paid
            FROM (SELECT *, (id * 2654435761) % 1000 AS b FROM cases_processed
                  WHERE assigned_to IS NOT NULL) c
            WHERE b < 80 AND NOT (b < 30 AND c.status = 'Resolved')
        ) chosen""")


def _holds(conn) -> None:
    """Active holds (after the migrations that make the table): a dispute on 1% of the cases and a
    cease on the borrowers of 0.2% (every case of theirs), by a hash of the id."""
    conn.execute("""
        INSERT INTO holds (case_pk, bank_code, borrower_ref, scope, type, reason, created_at)
        SELECT id, bank_code, borrower_ref, 'case', 'dispute', 'bench', updated_at
        FROM cases_processed WHERE (id * 2654435761) % 1000 BETWEEN 100 AND 109""")
    conn.execute("""
        INSERT INTO holds (case_pk, bank_code, borrower_ref, scope, type, reason, created_at)
        SELECT DISTINCT ON (bank_code, borrower_ref) id, bank_code, borrower_ref, 'borrower', 'cease', 'bench',
               updated_at
        FROM cases_processed WHERE borrower_ref IS NOT NULL AND (id * 2654435761) % 1000 BETWEEN 200 AND 201
        ORDER BY bank_code, borrower_ref, id""")
    # the cases' on_hold, as every writer of holds keeps it (store/holds.py)
    held = held_sql(case_pk="c.id", bank_code="c.bank_code", borrower_ref="c.borrower_ref")
    conn.execute(f"UPDATE cases_processed c SET on_hold = true WHERE {held}")


def sample_values(conn) -> dict:
    """The matrix's values on this book: a case_id prefix naming 100 cases, a borrower's name typed
    without accents and in another order, a borrower_ref of a person with several cases, an agent."""
    n = conn.execute("SELECT count(*) FROM cases_processed").fetchone()[0]
    middle = conn.execute("SELECT case_id FROM cases_processed ORDER BY id OFFSET %s LIMIT 1", (n // 2,)).fetchone()[0]
    ref = conn.execute("SELECT borrower_ref FROM cases_processed WHERE id > %s AND borrower_ref IS NOT NULL "
                       "GROUP BY borrower_ref HAVING count(*) > 1 ORDER BY borrower_ref LIMIT 1",
                       (n // 2,)).fetchone()[0]
    agent_id, email = conn.execute("SELECT id, email FROM users WHERE email = 'bench-call_center-0@example.com'"
                                   ).fetchone()
    return {"q": middle[:-2], "borrower": "nunez jose", "borrower_ref": ref, "agent_email": email,
            "agent_id": agent_id}

"""Benchmark of the promises job through HTTP: 1M cases, 300k open promises; then a 100k book on a quiet day.

    python -m bench.promises [--cases 1000000] [--promises 300000] [--small 100000] [--history 700000]
                             [--explain] [--json FILE]

Migrates a database of its own and COPYs, in one pass over `bench/gen_cases.py`'s cases, a
consistent collecting book (`load_book`): every case routed by DPD; --history closed promises
(kept, partial, broken, cancelled, due 48-400 days ago) spread over the cases, each one paid
toward by a payment when it counted something; --promises open promises on distinct cases, taken
0-30 days before their due date and never after now, two in five with a payment counting toward
them (5-90 % of the amount, so none is kept yet); the cases holding a promise In Progress with an
agent of their team and `amount_recovered` the sum of their payments. Before any timing the book
is checked against the ledger's rules in SQL (`check_book`).

The big book's open promises fall due from 9 days ago to 30 days ahead (day T = today, UTC):
those due before T - grace close on T, partial or broken. Serving the API with gunicorn and one
Celery worker (bench.ingest.system), it times POST /api/promises/evaluate {as_of} -> job
succeeded for as_of T, T again (closes nothing) and T + 1 (one day falls due: the daily run),
then reloads a book of --small open promises due from T - 2 on (nothing past its grace on T) and
times T (a day where nothing is due) and T + 1. Each job's result is checked against what the
generated book says it must close. Before each job, in the same state: the reference - the same
closing done by PostgreSQL alone (one UPDATE on the due-date range), rolled back - and with
--explain the EXPLAIN (ANALYZE, BUFFERS) of the job's own statement, rolled back.
Without DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-promises (or $DCOE_HOME).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import requests

from bench.ingest import ADMIN, MB, PASSWORD, PeakRss, fresh_database, system
from bench.servers import servers

DATABASE = "dcoe_bench_promises"
SEED = 42
CENT = Decimal("0.01")
AGENT_ROLES = {"call_center": "call_center_agent", "field": "field_agent", "legal": "legal_team"}
METHODS = ("transfer", "card", "cash", "cheque", "other")
HISTORY = (("kept", 35), ("partial", 15), ("broken", 40), ("cancelled", 10))  # closed promises, weights
CASE_COLUMNS = ("case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region, "
                "team, status, assigned_to, amount_recovered")
PROMISE_COLUMNS = "case_pk, amount, due_date, status, paid, created_by, created_at, closed_at, closed_by, cancel_reason"
PAYMENT_COLUMNS = "case_pk, bank_code, reference, amount, paid_on, method, created_by, created_at"

# PostgreSQL alone closing what the job closes on as_of (due date before as_of - grace), nothing else
REFERENCE = """
    UPDATE promises SET status = CAST(CASE WHEN paid > 0 THEN 'partial' ELSE 'broken' END AS promise_status),
                        closed_at = statement_timestamp()
     WHERE status = 'open' AND due_date < CAST(%(as_of)s AS date) - %(grace)s
"""
# the book against the ledger's rules: amount_recovered is the sum of the payments; an open
# promise's paid is what counts toward it (domain.promises.counts_toward); one open per case
CHECKS = {
    "amount_recovered = sum of payments": """
        SELECT count(*) FROM cases_processed c
          LEFT JOIN (SELECT case_pk, sum(amount) AS total FROM payments GROUP BY case_pk) p ON p.case_pk = c.id
         WHERE c.amount_recovered IS DISTINCT FROM p.total""",
    "open promise's paid = payments counting toward it": """
        SELECT count(*) FROM promises pr
         WHERE pr.status = 'open' AND pr.paid <> (
               SELECT coalesce(sum(p.amount), 0) FROM payments p
                WHERE p.case_pk = pr.case_pk AND p.reversed_at IS NULL AND p.created_at >= pr.created_at
                  AND p.paid_on >= CAST(pr.created_at AT TIME ZONE 'UTC' AS date))""",
    "open promise not kept yet, within the balance": """
        SELECT count(*) FROM promises pr JOIN cases_processed c ON c.id = pr.case_pk
         WHERE pr.status = 'open' AND (pr.paid >= pr.amount OR pr.amount > c.due_amount)""",
}


@dataclass
class Book:
    """What a generated book holds: its open promises by (due date, something paid)."""

    open_due: Counter = field(default_factory=Counter)
    closed: int = 0
    payments: int = 0

    def closes(self, as_of: date, grace: int) -> dict[str, int]:
        """What the promises job must close on `as_of`, from a fresh book."""
        due = {(d, paid): n for (d, paid), n in self.open_due.items() if as_of > d + timedelta(days=grace)}
        return {"kept": 0, "partial": sum(n for (_, paid), n in due.items() if paid),
                "broken": sum(n for (_, paid), n in due.items() if not paid)}


def create_database(server_url: str) -> tuple[str, str, dict[str, int]]:
    """A fresh, migrated bench database with the bench admin and one agent per team:
    (SQLAlchemy URL, libpq DSN, agent ids by team)."""
    database_url, dsn = fresh_database(server_url, DATABASE)
    from domain import users
    from store.engine import get_engine
    from store.uow import UnitOfWork

    with UnitOfWork(get_engine(database_url)) as uow:
        agents = {team: users.create_user(uow, email=f"bench-{team}@example.com", name=f"{team} agent",
                                          password=PASSWORD, role=users.Role(role)).id
                  for team, role in AGENT_ROLES.items()}
    return database_url, dsn, agents


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def _moment(rnd: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rnd.random()


def load_book(dsn: str, agents: dict[str, int], *, cases: int, promises: int, history: int, first_due: int,
              now: datetime) -> Book:
    """COPY a consistent book (see the module's docstring) into emptied tables; vacuumed, checkpointed.
    Open promises fall due from today + `first_due` days to today + 30."""
    from bench.gen_cases import rows
    from domain.routing import route

    started, today, book = time.perf_counter(), now.date(), Book()
    rnd = random.Random(SEED)
    with_open = set(rnd.sample(range(1, cases + 1), promises))
    per_case = history / cases
    with tempfile.TemporaryDirectory(prefix="bench-promises-") as folder, \
            open(Path(folder) / "promises.csv", "w", newline="") as pr_file, \
            open(Path(folder) / "payments.csv", "w", newline="") as pay_file, \
            psycopg.connect(dsn) as conn, conn.cursor() as cur:
        promise_out, payment_out = csv.writer(pr_file), csv.writer(pay_file)

        def pay(case_pk, bank, agent, amount, at: datetime) -> None:
            book.payments += 1
            payment_out.writerow((case_pk, bank, f"PB-{book.payments}", amount, at.date(), rnd.choice(METHODS),
                                  agent, at.isoformat()))

        cur.execute("TRUNCATE payments, promises, contacts, holds, case_status_history, case_assignments, "
                    "cases_processed RESTART IDENTITY")
        with cur.copy(f"COPY cases_processed ({CASE_COLUMNS}) FROM STDIN") as copy:
            for case_pk, case in enumerate(rows(cases, SEED, 1), start=1):
                team = route(case["days_past_due"]).value
                balance = Decimal(case["due_amount"])
                has_open = case_pk in with_open
                closed = int(per_case) + (rnd.random() < per_case % 1)
                agent = agents[team] if closed or has_open else None
                for _ in range(closed):  # all before any open promise was taken (T - 39 at the earliest)
                    due = today - timedelta(days=rnd.randint(48, 400))
                    taken = datetime(due.year, due.month, due.day, tzinfo=UTC) - timedelta(days=rnd.randint(0, 30),
                                                                                          hours=rnd.randint(-10, 10))
                    amount = max(_cents(balance * Decimal(rnd.uniform(0.05, 0.4))), CENT)
                    status = rnd.choices([s for s, _ in HISTORY], [w for _, w in HISTORY])[0]
                    paid = {"kept": amount, "partial": max(_cents(amount * Decimal(rnd.uniform(0.1, 0.9))), CENT)
                            }.get(status, Decimal(0))
                    if status == "partial" and paid >= amount:  # a promise of a cent or two
                        status = "kept"
                    end = datetime(due.year, due.month, due.day, tzinfo=UTC) + timedelta(days=3)
                    closed_at = _moment(rnd, taken, end) if status in ("kept", "cancelled") else end
                    if paid:
                        pay(case_pk, case["bank_code"], agent, paid, _moment(rnd, taken, closed_at))
                        balance -= paid
                    promise_out.writerow((case_pk, amount, due, status, paid, agent, taken.isoformat(),
                                          closed_at.isoformat(), agent if status == "cancelled" else None,
                                          "borrower asked" if status == "cancelled" else None))
                    book.closed += 1
                if has_open:
                    due = today + timedelta(days=rnd.randint(first_due, 30))
                    earliest, latest = due - timedelta(days=30), min(due, today)  # check_promise's window
                    day = earliest + timedelta(days=rnd.randint(0, (latest - earliest).days))
                    taken = min(datetime(day.year, day.month, day.day, tzinfo=UTC)
                                + timedelta(seconds=rnd.randint(6 * 3600, 20 * 3600)), now - timedelta(minutes=1))
                    amount = max(_cents(balance * Decimal(rnd.uniform(0.2, 1.0))), CENT)
                    paid = _cents(amount * Decimal(rnd.uniform(0.05, 0.9))) if rnd.random() < 0.4 else Decimal(0)
                    if paid >= amount:
                        paid = Decimal(0)
                    if paid:
                        pay(case_pk, case["bank_code"], agent, paid, _moment(rnd, taken, now))
                        balance -= paid
                    promise_out.writerow((case_pk, amount, due, "open", paid, agent, taken.isoformat(),
                                          None, None, None))
                    book.open_due[due, paid > 0] += 1
                recovered = Decimal(case["due_amount"]) - balance
                copy.write_row((case["case_id"], case["bank_code"], case["borrower_name"], case["loan_amount"],
                                case["due_amount"], case["days_past_due"], case["priority"], case["region"], team,
                                "In Progress" if agent else "Pending", agent, recovered or None))
        pr_file.flush()
        pay_file.flush()
        for table, columns, path in (("promises", PROMISE_COLUMNS, pr_file.name),
                                     ("payments", PAYMENT_COLUMNS, pay_file.name)):
            with open(path, "rb") as data, cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                while block := data.read(MB):
                    copy.write(block)
    settle(dsn)
    print(f"loaded {cases:,} cases, {promises:,} open and {book.closed:,} closed promises, {book.payments:,} "
          f"payments with COPY in {time.perf_counter() - started:.1f} s")
    return book


def check_book(dsn: str) -> None:
    """The generated book keeps the ledger's rules, or the benchmark stops."""
    with psycopg.connect(dsn) as conn:
        for name, sql in CHECKS.items():
            if bad := conn.execute(sql).fetchone()[0]:
                raise RuntimeError(f"the generated book breaks '{name}' in {bad} rows")


def settle(dsn: str) -> None:
    """Every timing starts alike: statistics fresh, no dead rows, no dirty pages pending."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed, promises, payments")
        conn.execute("CHECKPOINT")
    os.sync()


def reference(dsn: str, as_of: date, grace: int, *, explain: bool) -> tuple[float, int]:
    """PostgreSQL alone closing what the job closes, rolled back: (seconds, rows); with `explain`,
    also print the plan of the job's own statement (EXPLAIN ANALYZE, rolled back too)."""
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        closed = conn.execute(REFERENCE, {"as_of": as_of, "grace": grace}).rowcount
        seconds = time.perf_counter() - started
        conn.rollback()
        if explain:
            from store.promises import CLOSE_STATEMENT  # the job's statement, as the store sends it

            sql = "EXPLAIN (ANALYZE, BUFFERS) " + CLOSE_STATEMENT.replace(":as_of", "%(as_of)s").replace(
                ":grace_days", "%(grace_days)s").replace(":kept_percent", "%(kept_percent)s")
            plan = conn.execute(sql, {"as_of": as_of, "grace_days": grace, "kept_percent": Decimal(100)}).fetchall()
            conn.rollback()
            print("\n".join(f"    {line}" for (line,) in plan))
    settle(dsn)
    return seconds, closed


def evaluate(base: str, headers: dict, as_of: date) -> tuple[float, dict]:
    """(seconds POST /api/promises/evaluate -> succeeded, the job)."""
    started = time.perf_counter()
    response = requests.post(f"{base}/api/promises/evaluate", json={"as_of": as_of.isoformat()}, headers=headers,
                             timeout=60)
    if response.status_code != 202:
        raise RuntimeError(f"evaluate answered {response.status_code}: {response.text[:300]}")
    job_url = f"{base}/api/jobs/{response.json()['id']}"
    while (job := requests.get(job_url, headers=headers, timeout=30).json())["state"] in ("queued", "running"):
        time.sleep(0.02)
    if job["state"] != "succeeded":
        raise RuntimeError(f"the job ended {job['state']}: {job['error']}")
    return time.perf_counter() - started, job


@dataclass
class Run:
    name: str
    as_of: date
    expected: dict[str, int]
    total: float = 0.0
    worker: float = 0.0
    reference: float = 0.0
    result: dict = field(default_factory=dict)


def run_book(base: str, headers: dict, dsn: str, runs: list[Run], grace: int, explain: bool) -> None:
    """Time each run's job after its reference, in order, on one book; check what each closed."""
    for run in runs:
        print(f"{run.name} (as_of {run.as_of}), load {os.getloadavg()[0]:.2f}")
        run.reference, _ = reference(dsn, run.as_of, grace, explain=explain)
        run.total, job = evaluate(base, headers, run.as_of)
        run.worker = (datetime.fromisoformat(job["finished_at"])
                      - datetime.fromisoformat(job["started_at"])).total_seconds()
        run.result = job["result"]
        if run.result != run.expected:
            raise RuntimeError(f"{run.name}: the job closed {run.result}, the book says {run.expected}")
        settle(dsn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--promises", type=int, default=300_000, help="open promises of the big book")
    parser.add_argument("--small", type=int, default=100_000, help="open promises of the quiet book")
    parser.add_argument("--history", type=int, default=700_000, help="closed promises in each book")
    parser.add_argument("--explain", action="store_true", help="print the plan of the job's statement before each run")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("promises")
    from dcoe import servers as configured

    grace = configured.settings().promise_terms.grace_days  # what the worker reads too
    database_url, dsn, agents = create_database(server_url)
    now = datetime.now(UTC)
    today, tomorrow = now.date(), now.date() + timedelta(days=1)
    load_before = os.getloadavg()
    print(f"load before: {' / '.join(f'{x:.2f}' for x in load_before)} (1/5/15 min, {os.cpu_count()} cores)")
    big = load_book(dsn, agents, cases=args.cases, promises=args.promises, history=args.history, first_due=-9,
                    now=now)
    check_book(dsn)
    day_one = big.closes(tomorrow, grace)
    day_one = {k: v - big.closes(today, grace)[k] for k, v in day_one.items()}
    big_runs = [Run(f"{args.promises:,} open: as_of today", today, big.closes(today, grace)),
                Run(f"{args.promises:,} open: the same as_of again", today, {"kept": 0, "partial": 0, "broken": 0}),
                Run(f"{args.promises:,} open: as_of tomorrow (one day due)", tomorrow, day_one)]
    with system(database_url, redis_url) as (base, pids):
        login = requests.post(f"{base}/api/auth/login", json={"email": ADMIN, "password": PASSWORD}, timeout=30)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        sampler = PeakRss({"worker": pids["worker"]})
        sampler.start()
        run_book(base, headers, dsn, big_runs, grace, args.explain)
        quiet = load_book(dsn, agents, cases=args.cases, promises=args.small, history=args.history, first_due=-2,
                          now=now)
        check_book(dsn)
        quiet_runs = [Run(f"{args.small:,} open: as_of today (nothing due)", today, quiet.closes(today, grace)),
                      Run(f"{args.small:,} open: as_of tomorrow (one day due)", tomorrow,
                          quiet.closes(tomorrow, grace))]
        run_book(base, headers, dsn, quiet_runs, grace, args.explain)
        peak = sampler.stop()["worker"]
    load_after = os.getloadavg()
    print(f"load after: {' / '.join(f'{x:.2f}' for x in load_after)}")
    report([*big_runs, *quiet_runs], peak)
    if args.json:
        from bench.figures import save

        save(args.json, "promises", {"cases": args.cases, "promises": args.promises, "small": args.small,
                                     "history": args.history},
             [*((f"{r.name}, POST -> succeeded", r.total, "s") for r in [*big_runs, *quiet_runs]),
              *((f"{r.name}, reference UPDATE", r.reference, "s") for r in [*big_runs, *quiet_runs]),
              ("peak RSS of the worker", peak / MB, "MB")])


def report(runs: list[Run], peak: int) -> None:
    print(f"\n{'run':<48}{'closed':>8}{'POST->ok':>10}{'worker':>9}{'ref.':>8}   result")
    for r in runs:
        closed = sum(r.result.values())
        print(f"{r.name:<48}{closed:>8,}{r.total:>9.2f}s{r.worker:>8.2f}s{r.reference:>7.2f}s   {r.result}")
    print(f"\npeak RSS of the worker: {peak / MB:.0f} MB; target: {runs[0].name} <= 10 s: "
          f"{'met' if runs[0].total <= 10 else 'MISSED'} ({runs[0].total:.2f} s)")


if __name__ == "__main__":
    main()

"""Benchmark of migration 0004 (money: the borrower's columns, the ledger) on a book of N cases.

    python -m bench.migrate_0004 [--cases 1000000] [--resolved-every 5]

Builds a database of its own at revision 0003, COPYs the generator's N cases into it (routed by
DPD; every `--resolved-every`-th one Resolved with an amount recovered, one in ten of those 0.00),
VACUUM ANALYZEs it as a long-lived database would be, then times `upgrade(url, "0004")` and each
statement it runs. Without DATABASE_URL it runs an embedded server under var/bench-migrate.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.servers import fresh_database, servers

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "dcoe_bench_migrate_0004"
COLUMNS = ("case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region, team, "
           "status, amount_recovered, resolved_at")




def load_cases(dsn: str, n: int, resolved_every: int) -> Counter:
    """COPY the generator's N cases as 0003 stored them; how many of each kind."""
    from domain.routing import route

    kinds: Counter = Counter()
    resolved_at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    gen = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(n)], stdout=subprocess.PIPE,
                           text=True)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY cases_processed ({COLUMNS}) FROM STDIN") as copy:
            for k, row in enumerate(csv.DictReader(gen.stdout)):
                status, recovered, resolved = "Pending", None, None
                if k % resolved_every == 0:
                    # one resolution in ten recovered nothing: 0004 makes that null, with no payment
                    status, resolved = "Resolved", resolved_at
                    recovered = "0.00" if (k // resolved_every) % 10 == 0 else row["due_amount"]
                    kinds["resolved, recovered 0.00" if recovered == "0.00" else "resolved, recovered > 0"] += 1
                else:
                    kinds["open"] += 1
                copy.write_row((row["case_id"], row["bank_code"], row["borrower_name"], row["loan_amount"],
                                row["due_amount"], int(row["days_past_due"]), row["priority"], row["region"],
                                route(int(row["days_past_due"])).value, status, recovered, resolved))
    if gen.wait() != 0:
        raise RuntimeError("gen_cases.py failed")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed")
    return kinds


def timed_upgrade(database_url: str) -> tuple[float, list[tuple[float, str]]]:
    """Seconds `upgrade(url, "0004")` takes, and each statement it ran with its seconds."""
    from store.migrate import upgrade

    statements: list[tuple[float, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        statements.append((time.perf_counter() - conn.info.pop("bench_started"), " ".join(statement.split())))

    event.listen(Engine, "before_cursor_execute", before)  # every engine: alembic's own too
    event.listen(Engine, "after_cursor_execute", after)
    try:
        started = time.perf_counter()
        upgrade(database_url, "0004")
        return time.perf_counter() - started, statements
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--resolved-every", type=int, default=5, help="every k-th case is Resolved (default 5)")
    parser.add_argument("--statements", type=int, default=8, help="how many of the slowest statements to list")
    args = parser.parse_args()
    server_url, _ = servers("migrate")
    database_url, dsn = fresh_database(server_url, DATABASE, revision="0003")
    started = time.perf_counter()
    kinds = load_cases(dsn, args.cases, args.resolved_every)
    print(f"{args.cases:,} cases at 0003 ({', '.join(f'{n:,} {kind}' for kind, n in sorted(kinds.items()))}), "
          f"loaded and analyzed in {time.perf_counter() - started:.1f} s")
    seconds, statements = timed_upgrade(database_url)
    with psycopg.connect(dsn) as conn:
        payments, nulled = conn.execute(
            "SELECT (SELECT count(*) FROM payments WHERE method = 'settlement'),"
            " (SELECT count(*) FROM cases_processed WHERE status = 'Resolved' AND amount_recovered IS NULL)").fetchone()
    print(f"\nupgrade 0003 -> 0004: {seconds:.2f} s ({payments:,} settlement payments, "
          f"{nulled:,} recoveries of 0.00 made null)")
    print(f"slowest statements (of {len(statements)}):")
    for elapsed, statement in sorted(statements, reverse=True)[:args.statements]:
        print(f"  {elapsed:>8.3f} s  {statement[:100]}")


if __name__ == "__main__":
    main()

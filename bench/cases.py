"""Benchmark of the case API through HTTP with N cases loaded (issue 3, acceptance 2).

    python -m bench.cases [--cases 1000000] [--samples 300] [--clients 8] [--reuse]

Loads N generated cases (bench/gen_cases.py) with COPY into a database of its own, assigns every
50th case to an agent of its team with a working status, serves the API with gunicorn (2 sync
workers, as `dcoe web` does) and measures, with one client: the first page and pages at depth
>= 10,000 of `status=Pending&team=call_center&min_dpd=2&sort=-due_amount`, and update-status;
then update-status with concurrent clients. Without DATABASE_URL/REDIS_URL it runs embedded
servers under var/bench-cases, so it shares nothing with a running system.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from threading import Barrier

import psycopg
import requests
from sqlalchemy.engine import make_url

from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "dcoe_bench_cases"
LISTING = {"status": "Pending", "team": "call_center", "min_dpd": 2, "sort": "-due_amount", "limit": 50}
DEPTH_PAGES = 10_000
# 2% of the cases are being worked, the rest wait for an assignment run: the listing's filter
# then matches over 515,000 cases at 1M, enough for 300 pages past page 10,000
ASSIGN_EVERY = 50
WORKING = ("In Progress", "In Progress", "Escalated", "Resolved", "In Progress")
PASSWORD = "bench-password"
FIGURES: list[tuple[str, float, str]] = []  # what report() printed, for --json


def prepare_database(server_url: str, n: int, reuse: bool) -> str:
    """A migrated database holding N cases and the bench users; its SQLAlchemy URL."""
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    database_url = url.set(database=DATABASE).render_as_string(hide_password=False)
    dsn = url.set(drivername="postgresql", database=DATABASE).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if exists and reuse:
            with psycopg.connect(dsn) as bench:
                if bench.execute("SELECT count(*) FROM cases_processed").fetchone()[0] == n:
                    print(f"reusing {DATABASE} with {n:,} cases")
                    return database_url
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    from store.migrate import upgrade

    upgrade(database_url)
    agents = create_users(database_url)
    started = time.perf_counter()
    load_cases(dsn, n, agents)
    print(f"loaded {n:,} cases with COPY (indexes in place) in {time.perf_counter() - started:.1f} s")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed")
        conn.execute("VACUUM ANALYZE case_assignments")
    return database_url


def create_users(database_url: str) -> dict[str, list[int]]:
    """An admin and three agents per team; the agents' ids by team."""
    from domain import users
    from store.engine import get_engine
    from store.uow import UnitOfWork

    agents: dict[str, list[int]] = {}
    with UnitOfWork(get_engine(database_url)) as uow:
        users.create_user(uow, email="bench-admin@example.com", name="Bench Admin", password=PASSWORD,
                          role=users.Role.ADMIN)
        for role in (users.Role.CALL_CENTER_AGENT, users.Role.FIELD_AGENT, users.Role.LEGAL_TEAM):
            for k in range(3):
                user = users.create_user(uow, email=f"bench-{role.value}-{k}@example.com", name=f"{role.value} {k}",
                                         password=PASSWORD, role=role)
                agents.setdefault(user.team.value, []).append(user.id)
    return agents


def load_cases(dsn: str, n: int, agents: dict[str, list[int]]) -> None:
    """COPY the generator's N rows, routed by DPD; every ASSIGN_EVERY-th one assigned and worked."""
    from domain.routing import route

    rotation = {team: itertools.cycle(ids) for team, ids in agents.items()}
    now = datetime.now(UTC)
    gen = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(n)], stdout=subprocess.PIPE,
                           text=True)
    columns = ("case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, priority, region, "
               "team, status, assigned_to, amount_recovered, resolved_at")
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY cases_processed ({columns}) FROM STDIN") as copy:
            for k, row in enumerate(csv.DictReader(gen.stdout)):
                team = route(int(row["days_past_due"])).value
                status, agent, recovered, resolved = "Pending", None, None, None
                if k % ASSIGN_EVERY == 0:
                    agent = next(rotation[team])
                    status = WORKING[(k // ASSIGN_EVERY) % len(WORKING)]
                    if status == "Resolved":
                        recovered, resolved = row["due_amount"], now
                copy.write_row((row["case_id"], row["bank_code"], row["borrower_name"], row["loan_amount"],
                                row["due_amount"], int(row["days_past_due"]), row["priority"], row["region"],
                                team, status, agent, recovered, resolved))
        cur.execute("INSERT INTO case_assignments (case_pk, assigned_to) "
                    "SELECT id, assigned_to FROM cases_processed WHERE assigned_to IS NOT NULL")
    if gen.wait() != 0:
        raise RuntimeError("gen_cases.py failed")


@contextmanager
def gunicorn(database_url: str, redis_url: str, workers: int = 2):
    """The API under gunicorn (sync workers) on a free port; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, LOGIN_RATE_LIMIT="1000 per minute",
               LOG_LEVEL="WARNING")
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--log-level", "warning", "web:create_app()"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def login(base: str, email: str) -> dict:
    response = requests.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    return {"Authorization": f"Bearer {_ok(response).json()['access_token']}"}


def _ok(response: requests.Response) -> requests.Response:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code} {response.text[:300]}")
    return response


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def report(name: str, samples: list[float]) -> None:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    print(f"{name:<46} n={len(samples):>5}  p50={q[49]:6.1f} ms  p95={q[94]:6.1f} ms  "
          f"p99={q[98]:6.1f} ms  max={max(samples):6.1f} ms")
    FIGURES.extend((f"{name}, p{p}", q[p - 1], "ms") for p in (50, 95, 99))


def deep_position(dsn: str, database_url: str, samples: int):
    """(page number, the case just before it) of a page >= DEPTH_PAGES, or as deep as the data allows."""
    from store.engine import get_engine
    from store.uow import UnitOfWork

    where = "status = 'Pending' AND team = 'call_center' AND days_past_due >= %s"
    limit = LISTING["limit"]
    with psycopg.connect(dsn) as conn:
        matching = conn.execute(f"SELECT count(*) FROM cases_processed WHERE {where}",
                                (LISTING["min_dpd"],)).fetchone()[0]
        page = max(1, min(DEPTH_PAGES, matching // limit - samples))
        last_pk = conn.execute(f"SELECT id FROM cases_processed WHERE {where} ORDER BY due_amount DESC, id DESC "
                               "OFFSET %s LIMIT 1", (LISTING["min_dpd"], page * limit - 1)).fetchone()[0]
    with UnitOfWork(get_engine(database_url)) as uow:
        last = uow.cases.get(last_pk)
    print(f"listing filter matches {matching:,} cases ({matching // limit:,} pages); "
          f"deep pages start at page {page + 1:,}")
    return page + 1, last


def print_plan(dsn: str, last) -> None:
    """EXPLAIN ANALYZE of a deep page, in the shape the store builds (literal values)."""
    with psycopg.connect(dsn) as conn:
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM cases_processed WHERE status = 'Pending' "
            "AND team = 'call_center' AND days_past_due >= %s AND (due_amount, id) < (%s, %s) "
            "ORDER BY due_amount DESC, id DESC LIMIT 51", (LISTING["min_dpd"], last.due_amount, last.id)).fetchall()
    print("plan of a deep page:\n  " + "\n  ".join(line for (line,) in plan))


def working_cases(dsn: str, email: str, count: int) -> list[tuple[int, int]]:
    """(id, version) of up to `count` In Progress cases of the agent with this email."""
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT c.id, c.version FROM cases_processed c JOIN users u ON u.id = c.assigned_to "
                            "WHERE u.email = %s AND c.status = 'In Progress' ORDER BY c.id LIMIT %s",
                            (email, count)).fetchall()


def escalate(base: str, headers: dict, case_pk: int, version: int) -> None:
    _ok(requests.patch(f"{base}/api/cases/{case_pk}/update-status", json={"status": "Escalated", "comment": "bench"},
                       headers={**headers, "If-Match": f'"{version}"'}, timeout=30))


def measure_listing(base: str, deep_page: int, last, samples: int) -> None:
    """The first page, then `samples` consecutive pages from `deep_page` on, following the cursors."""
    from domain.case_queries import CaseSort
    from web.pagination import encode_cursor

    admin = login(base, "bench-admin@example.com")

    def listing(cursor=None) -> dict:
        query = {**LISTING, "cursor": cursor} if cursor else LISTING
        return _ok(requests.get(f"{base}/api/cases", params=query, headers=admin, timeout=30)).json()

    for _ in range(20):  # warm both workers: pools, compiled statements, prepared plans
        listing()
    report("GET /api/cases first page", [_timed(listing) for _ in range(samples)])
    cursor, deep = encode_cursor(CaseSort.parse(LISTING["sort"]).cursor_key(last)), []
    for _ in range(samples):
        started = time.perf_counter()
        cursor = listing(cursor)["next_cursor"]
        deep.append((time.perf_counter() - started) * 1000)
    report(f"GET /api/cases pages {deep_page:,}..{deep_page + samples - 1:,}", deep)


def measure_updates(base: str, dsn: str, samples: int, clients: int) -> None:
    """update-status by one client, then by `clients` concurrent ones (one agent each, own cases)."""
    emails = [f"bench-{role}-{k}@example.com" for k in range(3)
              for role in ("call_center_agent", "field_agent", "legal_team")][:clients]
    headers = {email: login(base, email) for email in emails}
    todo = working_cases(dsn, emails[0], samples + 20)
    for case_pk, version in todo[:20]:  # warm-up
        escalate(base, headers[emails[0]], case_pk, version)
    report("PATCH update-status, 1 client",
           [_timed(lambda pk=pk, v=v: escalate(base, headers[emails[0]], pk, v)) for pk, v in todo[20:]])

    plans = [(headers[email], working_cases(dsn, email, samples)) for email in emails]
    barrier = Barrier(len(plans) + 1)

    def client(plan) -> list[float]:
        agent_headers, cases = plan
        barrier.wait()
        return [_timed(lambda pk=pk, v=v: escalate(base, agent_headers, pk, v)) for pk, v in cases]

    with ThreadPoolExecutor(len(plans)) as pool:
        futures = [pool.submit(client, plan) for plan in plans]
        barrier.wait()
        started = time.perf_counter()
        latencies = [ms for future in futures for ms in future.result()]
        elapsed = time.perf_counter() - started
    report(f"PATCH update-status, {len(plans)} clients", latencies)
    print(f"update-status throughput, {len(plans)} clients, 2 gunicorn workers: "
          f"{len(latencies) / elapsed:,.0f} updates/s ({len(latencies):,} updates in {elapsed:.1f} s)")
    FIGURES.append((f"update-status throughput, {len(plans)} clients", len(latencies) / elapsed, "updates/s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300, help="requests per measurement and client")
    parser.add_argument("--clients", type=int, default=8, choices=range(1, 10), metavar="1..9",
                        help="concurrent update-status clients, one bench agent each")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database when it has --cases cases")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("cases")
    database_url = prepare_database(server_url, args.cases, args.reuse)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    deep_page, last = deep_position(dsn, database_url, args.samples)
    print_plan(dsn, last)
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with gunicorn(database_url, redis_url) as base:
        measure_listing(base, deep_page, last, args.samples)
        measure_updates(base, dsn, args.samples, args.clients)
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json:
        from bench.figures import save

        save(args.json, "cases", {"cases": args.cases, "samples": args.samples, "clients": args.clients}, FIGURES)


if __name__ == "__main__":
    main()

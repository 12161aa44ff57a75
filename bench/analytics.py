#!/usr/bin/env python3
"""Analytics benchmark: a refresh job end to end over HTTP, and GET /summary latency.

Usage:
    python bench/analytics.py [--cases 1000000] [--refreshes 5] [--gets 500] [--home var/bench-analytics]

Loads N cases (bench/gen_cases.py, seed 42) with COPY, with a realistic mix of statuses: 20 %
Pending and unassigned, 45 % In Progress, 10 % Escalated, 25 % Resolved (recovering 0–100 % of
the due amount), all but Pending assigned round-robin to 10 agents per team. Then starts gunicorn
and one Celery worker, and measures POST /api/analytics/refresh → job succeeded (polled every
10 ms) and sequential GET /api/analytics/summary. With DATABASE_URL/REDIS_URL unset it runs on
embedded servers under --home; set them only to a scratch database: its tables are emptied.
"""
from __future__ import annotations

import argparse
import bisect
import csv
import http.client
import io
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-1"
AGENT_ROLES = {"call_center": "call_center_agent", "field": "field_agent", "legal": "legal_team"}
# 20 % Pending, 45 % In Progress, 10 % Escalated, 25 % Resolved
STATUS_CUTS, STATUS_MIX = (0.2, 0.65, 0.75), ("Pending", "In Progress", "Escalated", "Resolved")
COLUMNS = ("case_id", "bank_code", "borrower_name", "loan_amount", "due_amount", "days_past_due", "priority",
           "region", "team", "status", "assigned_to", "amount_recovered", "created_at", "resolved_at")


def prepare_database(settings, n: int, reuse: bool) -> None:
    """Schema, users and N cases (skipped with --reuse when the cases are already there)."""
    import psycopg

    from store.migrate import upgrade

    upgrade(settings.database_url)
    dsn = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        if reuse and conn.execute("SELECT count(*) FROM cases_processed").fetchone()[0] == n:
            print(f"reusing the {n:,} cases already loaded")
            return
        conn.execute("TRUNCATE analytics_snapshots, payments, case_status_history, case_assignments, ingest_errors, "
                     "cases_raw, cases_processed, upload_chunks, uploads, jobs, team_rotation, users "
                     "RESTART IDENTITY CASCADE")
        agents = create_users(conn)
        started = time.perf_counter()
        load_cases(conn, n, agents)
        loaded = time.perf_counter() - started
        conn.execute("VACUUM (ANALYZE) cases_processed")  # as autovacuum would leave a settled table
        print(f"loaded {n:,} cases with COPY in {loaded:.1f} s (vacuum + analyze "
              f"{time.perf_counter() - started - loaded:.1f} s)")


def create_users(conn) -> dict[str, list[int]]:
    """An admin, 10 active agents per team and one deactivated per team; returns active ids by team."""
    from domain.security import hash_password

    hashed = hash_password(PASSWORD)
    conn.execute("INSERT INTO users (email, name, password_hash, role) VALUES ('bench-admin@example.com', "
                 "'Bench Admin', %s, 'admin')", (hashed,))
    agents: dict[str, list[int]] = {}
    for team, role in AGENT_ROLES.items():
        for k in range(11):
            user_id = conn.execute(
                "INSERT INTO users (email, name, password_hash, role, active) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (f"{team}{k}@bench.example.com", f"{team} agent {k}", hashed, role, k < 10)).fetchone()[0]
            if k < 10:
                agents.setdefault(team, []).append(user_id)
    return agents


def load_cases(conn, n: int, agents: dict[str, list[int]]) -> None:
    from domain.routing import route

    rnd = random.Random(7)
    now = datetime.now(UTC)
    turn = {team: 0 for team in agents}
    generator = subprocess.Popen([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(n), "--seed", "42"],
                                 stdout=subprocess.PIPE, text=True)
    with conn.cursor().copy(f"COPY cases_processed ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        batch = io.StringIO()
        for i, row in enumerate(csv.DictReader(generator.stdout)):
            team = route(int(row["days_past_due"])).value
            status = STATUS_MIX[bisect.bisect(STATUS_CUTS, rnd.random())]
            assigned = recovered = resolved_at = None
            if status != "Pending":
                assigned = agents[team][turn[team] % len(agents[team])]
                turn[team] += 1
            created_at = now - timedelta(seconds=rnd.randint(3600, 365 * 86400))
            if status == "Resolved":
                share = 0 if rnd.random() < 0.05 else rnd.uniform(0.2, 1.0)
                recovered = (Decimal(row["due_amount"]) * Decimal(share)).quantize(Decimal("0.01"))
                resolved_at = min(now, created_at + timedelta(seconds=rnd.randint(3600, 120 * 86400)))
            values = [row[c] for c in COLUMNS[:8]] + [team, status, assigned, recovered, created_at, resolved_at]
            batch.write("\t".join(r"\N" if v is None else str(v) for v in values) + "\n")
            if i % 20_000 == 19_999:
                copy.write(batch.getvalue())
                batch = io.StringIO()
        copy.write(batch.getvalue())
    if generator.wait() != 0:
        raise SystemExit("gen_cases.py failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_system(port: int) -> list[subprocess.Popen]:
    """gunicorn (2 workers) and one Celery worker on the default queue, as in production."""
    env = dict(os.environ, ANALYTICS_INTERVAL_SECONDS="0", ASSIGN_INTERVAL_SECONDS="0", LOG_LEVEL="WARNING")
    logs = open(ROOT / "var" / "bench-analytics.log", "ab")
    commands = [
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "web:create_app()"],
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q", "default", "-c", "1",
         "-n", f"bench-{port}@%h", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
    ]
    return [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True)
            for cmd in commands]


def wait_ready(base: str, procs: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a process of the system exited; see var/bench-analytics.log")
        try:
            if requests.get(f"{base}/health/ready", timeout=2).json().get("workers", 0) >= 1:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit("the system did not become ready")


def timed_refresh(session: requests.Session, base: str) -> tuple[float, dict]:
    """(end-to-end seconds, job) of one refresh: POST, then poll the job until it finished."""
    started = time.perf_counter()
    job = session.post(f"{base}/api/analytics/refresh").json()
    while job["state"] in ("queued", "running"):
        time.sleep(0.01)
        job = session.get(f"{base}/api/jobs/{job['id']}").json()
    elapsed = time.perf_counter() - started
    if job["state"] != "succeeded":
        raise SystemExit(f"refresh ended {job['state']}: {job['error']}")
    return elapsed, job


def summary_latencies(port: int, token: str, n: int) -> list[float]:
    """Milliseconds of n sequential GET /summary, with a lean client (gunicorn closes each connection)."""
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/api/analytics/summary", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        conn.close()
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status == 200, response.status
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--refreshes", type=int, default=5)
    ap.add_argument("--gets", type=int, default=500)
    ap.add_argument("--home", default=str(ROOT / "var" / "bench-analytics"))
    ap.add_argument("--reuse", action="store_true", help="keep the cases already loaded if there are N of them")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = ap.parse_args()
    os.environ["DCOE_HOME"] = str(Path(args.home).resolve())
    (ROOT / "var").mkdir(exist_ok=True)
    from dcoe import servers

    settings = servers.settings()  # starts the embedded servers when no URL is configured
    prepare_database(settings, args.cases, args.reuse)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = start_system(port)
    try:
        wait_ready(base, procs)
        session = requests.Session()
        token = session.post(f"{base}/api/auth/login",
                          json={"email": "bench-admin@example.com", "password": PASSWORD}).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        warm, job = timed_refresh(session, base)  # first run: cold caches, not counted
        assert job["result"]["total_cases"] == args.cases, job["result"]["total_cases"]
        print(f"warm-up refresh: {warm:.3f} s")
        runs = [timed_refresh(session, base)[0] for _ in range(args.refreshes)]
        print("refresh end to end: " + ", ".join(f"{t:.3f}" for t in runs)
              + f" s; median {statistics.median(runs):.3f} s, max {max(runs):.3f} s ({args.cases:,} cases)")
        summary_latencies(port, token, 20)  # every gunicorn worker has connected and warmed up
        latencies = summary_latencies(port, token, args.gets)
        figures = ", ".join(f"p{p} {percentile(latencies, p):.2f} ms" for p in (50, 95, 99))
        print(f"GET /summary x{args.gets}: {figures}, max {max(latencies):.2f} ms")
        print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        if args.json:
            from bench.figures import save

            save(args.json, "analytics", {"cases": args.cases, "refreshes": args.refreshes, "gets": args.gets}, [
                ("refresh, POST -> succeeded, median", statistics.median(runs), "s"),
                ("refresh, POST -> succeeded, max", max(runs), "s"),
                *((f"GET /api/analytics/summary, p{p}", percentile(latencies, p), "ms") for p in (50, 95, 99))])
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()

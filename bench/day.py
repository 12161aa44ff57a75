"""An operations day on a working book (issue 14): a delta file, an assignment run, then agents and admins.

    python -m bench.day [--cases 5000000] [--agents 16] [--admins 2] [--seconds 60]

On the book of bench/book.py (kept in `bench_lists_<N>`; built when missing), with gunicorn as
`dcoe web` runs it (gthread workers) and one Celery worker on every queue:

1. a 10,000-row delta file — 5,000 new cases, 5,000 known ones with new amounts and DPD — uploaded
   and timed POST → succeeded;
2. an assignment run (the delta's new cases and any released ones), POST → succeeded;
3. `--agents` clients as agents for `--seconds`: list the own queue sorted by `-due_amount`, open a
   case of the page, move its status (In Progress ⇄ Escalated, with If-Match); and `--admins`
   clients as admins: a filtered list (a filter of bench/lists.py's matrix) and the summary.

It prints p50/p95/p99 per operation and the throughput. Without DATABASE_URL/REDIS_URL it runs
embedded servers under var/bench-day.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import requests

from bench.book import AGENTS_PER_TEAM, PASSWORD, build_book, sample_values
from bench.lists import filters
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
DELTA_NEW = DELTA_CHANGED = 5_000


def delta_file(n: int) -> bytes:
    """5,000 new cases after the book's last, and 5,000 of its cases again with other values."""
    def generate(count: int, start: int, seed: int) -> list[str]:
        out = subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cases.py"), str(count), "--start", str(start),
                              "--seed", str(seed), "--borrowers"], check=True, capture_output=True, text=True).stdout
        return out.splitlines()

    new = generate(DELTA_NEW, n + 1, 42)
    changed = generate(DELTA_CHANGED, n // 3, 7)  # the same case_ids as the book's, other values
    return "\n".join([new[0], *new[1:], *changed[1:]]).encode() + b"\n"


@contextmanager
def system(database_url: str, redis_url: str):
    """gunicorn as `dcoe web` runs it (2 gthread workers × 8 threads) and a Celery worker; the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING",
               LOGIN_RATE_LIMIT="1000 per minute", ASSIGN_INTERVAL_SECONDS="0", ANALYTICS_INTERVAL_SECONDS="0")
    log = (Path(os.environ["DCOE_HOME"]) / "bench-day.log").open("ab")
    procs = [
        subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                          "--worker-class", "gthread", "--threads", "8", "--timeout", "300", "--log-level", "warning",
                          "web:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q",
                          "ingest,default", "-c", "1", "-n", f"bench-day-{os.getpid()}@%h", "--loglevel", "WARNING"],
                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _ready(base):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise RuntimeError("the system did not start")
            time.sleep(0.3)
        yield base
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        log.close()


def _ready(base: str) -> bool:
    try:
        response = requests.get(f"{base}/health/ready", timeout=5)
        return response.status_code == 200 and response.json()["workers"] >= 1
    except requests.RequestException:
        return False


def session(base: str, email: str) -> requests.Session:
    s = requests.Session()
    response = s.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    s.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return s


def job(s: requests.Session, base: str, response: requests.Response) -> dict:
    """The job a POST started, once it finished (it must have succeeded)."""
    if response.status_code != 202:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    url = f"{base}/api/jobs/{response.json()['id']}"
    while (state := s.get(url, timeout=30).json())["state"] in ("queued", "running"):
        time.sleep(0.05)
    if state["state"] != "succeeded":
        raise RuntimeError(f"job {state['type']} ended {state['state']}: {state['error']}")
    return state


class Recorder:
    """Latencies per operation, from every client thread."""

    def __init__(self):
        self.ms, self.errors, self.lock = defaultdict(list), defaultdict(int), threading.Lock()

    def timed(self, name: str, call, *args, **kwargs) -> requests.Response:
        started = time.perf_counter()
        response = call(*args, timeout=60, **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.ms[name].append(elapsed)
            if response.status_code >= 500:
                self.errors[name] += 1
        return response


def agent_loop(s: requests.Session, base: str, rec: Recorder, stop: float, rnd: random.Random) -> None:
    while time.monotonic() < stop:
        page = rec.timed("agent: own queue by -due_amount", s.get, f"{base}/api/cases",
                         params={"sort": "-due_amount", "limit": 50}).json()["items"]
        if not page:
            continue
        case_pk = rnd.choice(page)["id"]
        case = rec.timed("agent: open a case", s.get, f"{base}/api/cases/{case_pk}")
        status = case.json()["status"]
        target = {"In Progress": "Escalated", "Escalated": "In Progress"}.get(status)
        if target:
            rec.timed("agent: update status", s.patch, f"{base}/api/cases/{case_pk}/update-status",
                      json={"status": target, "comment": "bench day"}, headers={"If-Match": case.headers["ETag"]})


def admin_loop(s: requests.Session, base: str, rec: Recorder, stop: float, rnd: random.Random,
               queries: list[dict]) -> None:
    while time.monotonic() < stop:
        query = rnd.choice(queries)
        rec.timed("admin: filtered list", s.get, f"{base}/api/cases", params={**query, "limit": 50})
        rec.timed("admin: summary", s.get, f"{base}/api/analytics/summary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5_000_000)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--admins", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    server_url, redis_url = servers("day")
    database_url = build_book(server_url, args.cases, reuse=True)
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        values = sample_values(conn)
    queries = [q for q in filters(values).values() if not q.get("as_agent")]
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with system(database_url, redis_url) as base:
        admin = session(base, "bench-admin@example.com")
        delta = delta_file(args.cases)
        rows = len(list(csv.reader(io.StringIO(delta.decode())))) - 1
        started = time.perf_counter()
        state = job(admin, base, admin.post(f"{base}/api/cases/upload", data=delta,
                                            headers={"Content-Type": "text/csv"}, timeout=300))
        print(f"delta file, {rows:,} rows, POST → succeeded: {time.perf_counter() - started:.2f} s  "
              f"{ {k: v for k, v in state['result'].items() if k != 'errors_sample'} }")
        started = time.perf_counter()
        state = job(admin, base, admin.post(f"{base}/api/cases/assign", json={}, timeout=60))
        print(f"assignment run, POST → succeeded: {time.perf_counter() - started:.2f} s  "
              f"assigned {state['result']['assigned']:,}")
        teams = ("call_center", "field", "legal")
        emails = [f"bench-{teams[k % 3]}-{k // 3 % AGENTS_PER_TEAM}@example.com" for k in range(args.agents)]
        agents = [session(base, email) for email in emails]
        admins = [session(base, "bench-admin@example.com") for _ in range(args.admins)]
        rec, stop = Recorder(), time.monotonic() + args.seconds  # once every client is logged in
        threads = [threading.Thread(target=agent_loop, args=(s, base, rec, stop, random.Random(k)))
                   for k, s in enumerate(agents)]
        threads += [threading.Thread(target=admin_loop, args=(s, base, rec, stop, random.Random(100 + k), queries))
                    for k, s in enumerate(admins)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(f"\n{args.agents} agents and {args.admins} admins for {args.seconds:.0f} s on {args.cases:,} cases:")
    total = 0
    for name, ms in sorted(rec.ms.items()):
        q = statistics.quantiles(ms, n=100, method="inclusive")
        total += len(ms)
        print(f"  {name:<34} n={len(ms):>6}  p50={q[49]:7.1f}  p95={q[94]:7.1f}  p99={q[98]:7.1f} ms  "
              f"{len(ms) / args.seconds:6.1f}/s  5xx={rec.errors[name]}")
    print(f"  throughput: {total / args.seconds:.1f} requests/s")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

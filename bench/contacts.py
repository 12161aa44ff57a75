"""Benchmarks of the contact log: a dialer's log through HTTP, and the eligibility route in a big log.

    python -m bench.contacts [--part file|eligibility|all] [--cases 200000] [--rows 1000000]
                             [--contacts 10000000] [--requests 500] [--steps]

(a) `file`: a database of its own (bench_contacts) with CASES cases (time zones of the US and
India, one case in four sharing its borrower with the next), a deterministic dialer's log of ROWS
rows over them (calls, sms, emails; outbound mostly, some inbound conversations; 1 to 9 contacts a
case over ten days of October 2026, local hours mostly 08-21 and one in twenty outside; sorted by
time, as a dialer exports it). The references, in the same run: a bare COPY of the same file into
`CREATE UNLOGGED TABLE ... (LIKE contacts INCLUDING ALL)` (and into a logged one), the file's
case_id added and the columns the file lacks made nullable. Then POST /api/contacts/upload ->
job succeeded with gunicorn and one Celery worker (bench.ingest.system), sampling the worker's
peak RSS; then the same file again (every row a duplicate). `--steps` runs the job in this
process instead and prints the time of each step.
(b) `eligibility`: a database of its own (bench_contacts_eligibility) with 500,000 cases and
CONTACTS contacts COPYed/generated straight into the table (indexes rebuilt after), one case among
them with 200 contacts over the last 60 days; GET /api/cases/<id>/contact-eligibility?channel=call
REQUESTS times in a row through HTTP (after 20 to warm up): p50, p95, p99.
Wrap it in `flock /tmp/dcoe-bench.lock` on a shared machine. Without DATABASE_URL/REDIS_URL it
runs embedded servers under var/bench-contacts.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import requests

from bench.in_process import NoProgress
from bench.ingest import ADMIN, MB, PASSWORD, PeakRss, fresh_database, system
from bench.servers import servers

DATABASE = "bench_contacts"
ELIGIBILITY_DATABASE = "bench_contacts_eligibility"
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix",
         "Pacific/Honolulu", "Asia/Kolkata"]
FIRST_DAY = datetime(2026, 10, 1)
PER_CASE = (1, 9, 3, 7, 5, 2, 8, 4, 6, 5)  # contacts of case i: PER_CASE[i % 10], 5 on average
COLUMNS = "case_id,channel,direction,outcome,at,note"
FIGURES: list[tuple[str, float, str]] = []  # (name, value, unit) of this run, for --json

# ---- (a) the dialer's log ----------------------------------------------------------------------

def load_cases(dsn: str, cases: int) -> None:
    """CASES cases straight into the table: a zone by case; cases 4k+1 and 4k+2 one borrower (same bank)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("""
            INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount,
                                         days_past_due, priority, region, team, borrower_ref, timezone)
            SELECT 'CASE-' || lpad(g::text, 8, '0'),
                   CASE WHEN g %% 4 IN (1, 2) THEN 'HDFC' ELSE (ARRAY['ICICI', 'SBI', 'AXIS'])[1 + g %% 3] END,
                   'Borrower ' || g, 5000, 1000 + g %% 500, 1 + g %% 30, 'Medium', 'North', 'call_center',
                   CASE WHEN g %% 4 IN (1, 2) THEN 'P-' || (g / 4) ELSE 'B-' || g END,
                   (%(zones)s::text[])[1 + g %% 7]
              FROM generate_series(1, %(n)s) g
        """, {"zones": ZONES, "n": cases})
        conn.commit()


def dialer_rows(cases: int, rows: int, seed: int = 11):
    """The log's rows (case_id, channel, direction, outcome, at, note), sorted by `at`."""
    rnd = random.Random(seed)
    out, case = [], 0
    while len(out) < rows:
        case += 1
        if case > cases:
            case = 1
        zone = ZoneInfo(ZONES[case % 7])
        for _ in range(min(PER_CASE[case % 10], rows - len(out))):
            out.append(_contact(rnd, f"CASE-{case:08d}", zone))
    out.sort(key=lambda row: row[4])
    return [(case_id, channel, direction, outcome, at.isoformat(), note)
            for case_id, channel, direction, outcome, at, note in out]


def _contact(rnd: random.Random, case_id: str, zone: ZoneInfo) -> tuple:
    day = FIRST_DAY + timedelta(days=rnd.randrange(10))
    hour = rnd.choice((6, 7, 21, 22)) if rnd.random() < 0.05 else rnd.randrange(8, 21)
    local = day.replace(hour=hour, minute=rnd.randrange(60), second=rnd.randrange(60), tzinfo=zone)
    at = local.astimezone(UTC)
    kind = rnd.random()
    if kind < 0.62:
        return (case_id, "call", "outbound", rnd.choices(
            ["no_answer", "voicemail", "not_connected", "wrong_party", "conversation", "promise_taken", "refused",
             "dispute_raised", "cease_requested"], [40, 25, 10, 5, 11, 5, 3, 0.5, 0.5])[0], at, None)
    if kind < 0.70:
        outcome = rnd.choices(["conversation", "promise_taken", "refused", "dispute_raised"], [70, 20, 9, 1])[0]
        return case_id, "call", "inbound", outcome, at, "borrower called back" if outcome == "promise_taken" else None
    if kind < 0.90:
        return case_id, "sms", "outbound", "no_answer", at, None
    return case_id, "email", "outbound", rnd.choice(["no_answer", "wrong_party"]), at, None


def write_log(path: Path, rows) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS.split(","))
        writer.writerows(rows)


def settle(dsn: str) -> None:
    """Every timing starts alike: statistics fresh, no dirty pages pending."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed, contacts, holds")
        conn.execute("CHECKPOINT")
    os.sync()


def reference(dsn: str, path: Path, *, logged: bool) -> float:
    """Seconds of a bare COPY of the file into a table shaped like contacts (its indexes included)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_contacts_ref")
        conn.execute(f"CREATE {'' if logged else 'UNLOGGED '}TABLE bench_contacts_ref (LIKE contacts INCLUDING ALL)")
        conn.execute("ALTER TABLE bench_contacts_ref ADD COLUMN case_id text, ALTER COLUMN case_pk DROP NOT NULL, "
                     "ALTER COLUMN right_party DROP NOT NULL, ALTER COLUMN reported DROP NOT NULL")
        conn.commit()
        settle(dsn)
        started = time.perf_counter()
        with path.open("rb") as data, conn.cursor().copy(
                f"COPY bench_contacts_ref ({COLUMNS}) FROM STDIN (FORMAT csv, HEADER true)") as copy:
            while block := data.read(MB):
                copy.write(block)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_contacts_ref")
        conn.commit()
    return elapsed


def post_file(base: str, headers: dict, path: Path) -> tuple[float, float, dict]:
    """(seconds the POST took, seconds POST -> succeeded, the job)."""
    started = time.perf_counter()
    with path.open("rb") as body:
        response = requests.post(f"{base}/api/contacts/upload", data=body, timeout=900,
                                 headers={**headers, "Content-Type": "text/csv"})
    posted = time.perf_counter() - started
    if response.status_code != 202:
        raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
    job_url = f"{base}/api/jobs/{response.json()['id']}"
    while (job := requests.get(job_url, headers=headers, timeout=30).json())["state"] in ("queued", "running"):
        time.sleep(0.05)
    if job["state"] != "succeeded":
        raise RuntimeError(f"the job ended {job['state']}: {job['error']}")
    return posted, time.perf_counter() - started, job


def login(base: str) -> dict:
    token = requests.post(f"{base}/api/auth/login", json={"email": ADMIN, "password": PASSWORD},
                          timeout=30).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def file_part(args, server_url: str, redis_url: str) -> None:
    database_url, dsn = fresh_database(server_url, DATABASE)
    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as folder:
        path = Path(folder) / f"dialer-{args.rows}.csv"
        started = time.perf_counter()
        write_log(path, dialer_rows(args.cases, args.rows))
        print(f"dialer's log: {args.rows:,} rows over {args.cases:,} cases, {path.stat().st_size / MB:.1f} MB "
              f"(generated in {time.perf_counter() - started:.1f} s)")
        load_cases(dsn, args.cases)
        unlogged = reference(dsn, path, logged=False)
        logged = reference(dsn, path, logged=True)
        settle(dsn)
        if args.steps:
            return steps(database_url, dsn, path, unlogged)
        print(f"load before: {os.getloadavg()[0]:.2f} (1 min average, {os.cpu_count()} cores)")
        with system(database_url, redis_url) as (base, pids):
            headers = login(base)
            sampler = PeakRss(pids)
            sampler.start()
            first = post_file(base, headers, path)
            settle(dsn)
            second = post_file(base, headers, path)
            peak = sampler.stop()
    print(f"load after: {os.getloadavg()[0]:.2f}")
    print(f"\n{'measurement':<56}{'seconds':>9}{'x reference':>13}")
    print(f"{'reference: bare COPY into UNLOGGED (LIKE contacts)':<56}{unlogged:>9.2f}{1:>13.2f}")
    print(f"{'   the same COPY into a logged (LIKE contacts)':<56}{logged:>9.2f}{logged / unlogged:>13.2f}")
    for name, (posted, total, job) in (("dialer's log, POST -> succeeded", first),
                                       ("the same file again, POST -> succeeded", second)):
        worked = datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
        print(f"{name:<56}{total:>9.2f}{total / unlogged:>13.2f}")
        print(f"{'   of which the POST (file stored)':<56}{posted:>9.2f}")
        print(f"{'   of which the worker (started -> finished)':<56}{worked.total_seconds():>9.2f}")
        print(f"{'   result':<56}   {({k: v for k, v in job['result'].items() if k != 'errors_sample'})}")
    print(f"\npeak RSS: worker {peak['worker'] / MB:.0f} MB, web process {peak['web'] / MB:.0f} MB")
    print(f"the log / reference {first[1] / unlogged:.2f} (target <= 3; vs the logged COPY "
          f"{first[1] / logged:.2f}); the same file again {second[1] / unlogged:.2f}")
    FIGURES.extend([
        ("reference: bare COPY into UNLOGGED (LIKE contacts)", unlogged, "s"),
        ("the same COPY into a logged (LIKE contacts)", logged, "s"),
        ("dialer's log, POST -> succeeded", first[1], "s"),
        ("dialer's log / reference", first[1] / unlogged, "x"),
        ("the same file again, POST -> succeeded", second[1], "s"),
        ("peak RSS of the worker", peak["worker"] / MB, "MB")])


# ---- --steps: where an in-process run's time goes -----------------------------------------------

def _timed(seconds: Counter) -> None:
    """Add up the wall time of each DialerLogStore method."""
    from store.dialer_logs import DialerLogStore

    for name in ("stage", "lock_cases", "record", "place_holds", "keep_errors"):
        method = getattr(DialerLogStore, name)

        def wrapper(self, *args, _method=method, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _method(self, *args, **kwargs)
            finally:
                seconds[f"store.{_name}"] += time.perf_counter() - started

        setattr(DialerLogStore, name, wrapper)


def steps(database_url: str, dsn: str, path: Path, unlogged: float) -> None:
    from domain import ingestion
    from domain.dialer_logs import record_dialer_log
    from domain.jobs import JobType
    from store.engine import get_engine
    from store.uow import UnitOfWork

    engine = get_engine(database_url)
    with UnitOfWork(engine) as uow:
        admin = uow.connection.exec_driver_sql("SELECT id FROM users").scalar_one()
    seconds: Counter = Counter()
    _timed(seconds)
    print(f"reference: bare COPY into UNLOGGED (LIKE contacts) {unlogged:.2f} s")
    for run in ("the log", "the same file again"):
        with UnitOfWork(engine) as uow, path.open("rb") as body:
            job, _ = ingestion.start_upload(uow, body=body, fmt="csv", filename=path.name, created_by=admin,
                                            enqueue=lambda job: None, chunk_bytes=1 << 20, job_type=JobType.CONTACTS)
            job = uow.jobs.claim(job.id)
            uow.commit()
        settle(dsn)
        seconds.clear()
        started = time.perf_counter()
        with UnitOfWork(engine) as uow:
            result = record_dialer_log(job, uow, NoProgress())
            before_commit = time.perf_counter()
            uow.commit()
        total = time.perf_counter() - started
        seconds["commit"] = time.perf_counter() - before_commit
        print(f"\n{run}: {total:.2f} s ({total / unlogged:.2f} x reference)   "
              f"{({k: v for k, v in result.items() if k != 'errors_sample'})}")
        for name, value in sorted(seconds.items(), key=lambda item: -item[1]):
            print(f"  {value:>7.2f} s  {name}")


# ---- (b) eligibility ----------------------------------------------------------------------------

ELIGIBILITY_CASES = 500_000
TARGET_CONTACTS = 200


def load_contacts(dsn: str, contacts: int) -> int:
    """Cases and CONTACTS contacts generated in PostgreSQL, the indexes built after; the target case's id."""
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        conn.execute(f"""
            INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due,
                                         priority, region, team, borrower_ref, timezone)
            SELECT 'CASE-' || lpad(g::text, 8, '0'), 'HDFC', 'Borrower ' || g, 5000, 1000, 10, 'Medium', 'North',
                   'call_center', 'B-' || g, 'America/Chicago'
              FROM generate_series(1, {ELIGIBILITY_CASES}) g""")
        indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contacts' "
                               "AND indexname <> 'contacts_pkey'").fetchall()
        for name, _definition in indexes:
            conn.execute(f"DROP INDEX {name}")
        target = ELIGIBILITY_CASES // 2
        # 10M contacts over the last 60 days, spread over the cases (the target's own come next)
        conn.execute(f"""
            INSERT INTO contacts (case_pk, at, channel, direction, outcome, right_party, policy_violations,
                                  reported, created_by)
            SELECT 1 + (g * 7919) % {ELIGIBILITY_CASES}, now() - (g % 5184000) * interval '1 second',
                   (ARRAY['call','call','call','sms','email']::contact_channel[])[1 + g % 5],
                   CASE WHEN g % 10 = 0 THEN 'inbound' ELSE 'outbound' END::contact_direction,
                   (ARRAY['no_answer','voicemail','not_connected','conversation']::contact_outcome[])[1 + g % 4],
                   g % 4 = 3, '{{}}', true, NULL
              FROM generate_series(1::bigint, {contacts - TARGET_CONTACTS}) g
             WHERE 1 + (g * 7919) % {ELIGIBILITY_CASES} <> {target}""")
        conn.execute(f"""
            INSERT INTO contacts (case_pk, at, channel, direction, outcome, right_party, policy_violations, reported)
            SELECT {target}, now() - g * interval '7 hours',
                   (ARRAY['call','sms','email']::contact_channel[])[1 + g % 3],
                   'outbound', (ARRAY['no_answer','voicemail','not_connected']::contact_outcome[])[1 + g % 3],
                   false, '{{}}', true
              FROM generate_series(1, {TARGET_CONTACTS}) g""")
        conn.execute("SET maintenance_work_mem = '1GB'")
        for _name, definition in indexes:
            conn.execute(definition)
        total = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases_processed, contacts")
        conn.execute("CHECKPOINT")
    print(f"loaded {ELIGIBILITY_CASES:,} cases and {total:,} contacts in {time.perf_counter() - started:.0f} s")
    return target


def eligibility_part(args, server_url: str, redis_url: str) -> None:
    database_url, dsn = fresh_database(server_url, ELIGIBILITY_DATABASE)
    case_pk = load_contacts(dsn, args.contacts)
    with system(database_url, redis_url) as (base, _pids), requests.Session() as session:
        session.headers.update(login(base))
        eligibility = (f"{base}/api/cases/{case_pk}/contact-eligibility", {"channel": "call"})
        case = (f"{base}/api/cases/{case_pk}", {})  # the floor: a request that reads the same case, no contacts
        for url, params in (eligibility, case) * 20:
            session.get(url, params=params, timeout=30).raise_for_status()
        timings: dict[str, list[float]] = {"eligibility": [], "case": []}
        answer = None
        for _ in range(args.requests):  # interleaved: both see the same moments of the machine's load
            for name, (url, params) in (("eligibility", eligibility), ("case", case)):
                started = time.perf_counter()
                response = session.get(url, params=params, timeout=30)
                timings[name].append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                if name == "eligibility":
                    answer = response.json()
    print(f"\n{args.requests} requests of each, interleaved, {TARGET_CONTACTS} contacts on case {case_pk}, "
          f"{args.contacts:,} in the table; load {os.getloadavg()[0]:.2f}")
    for name, label in (("eligibility", "GET /api/cases/<id>/contact-eligibility?channel=call"),
                        ("case", "GET /api/cases/<id> (the floor: auth, one case read)")):
        q = statistics.quantiles(timings[name], n=100)
        print(f"  {label:<56} p50 {q[49]:6.2f} ms   p95 {q[94]:6.2f} ms   p99 {q[98]:6.2f} ms")
        FIGURES.extend([(f"{name} p50", q[49], "ms"), (f"{name} p95", q[94], "ms")])
    print(f"  the answer: {answer} (target: eligibility p95 <= 15 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["file", "eligibility", "all"], default="all")
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--steps", action="store_true", help="time each step of an in-process run of the log")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("contacts")
    if args.part in ("eligibility", "all"):
        eligibility_part(args, server_url, redis_url)
    if args.part in ("file", "all"):
        file_part(args, server_url, redis_url)
    if args.json:
        from bench.figures import save

        save(args.json, "contacts", {"cases": args.cases, "rows": args.rows, "contacts": args.contacts}, FIGURES)


if __name__ == "__main__":
    main()

"""The listing matrix (issue 14): every filter × every sort, first page and depth 10,000, through HTTP.

    python -m bench.lists [--cases 1000000] [--requests 30] [--reuse] [--write-docs]

Builds a book of N generated cases (bench/book.py: 150 agents, 50 per team, a year of placements,
statuses, assignments, promises and `updated_at` spread as a working book has them) into the
database `bench_lists_<N>` (kept: `--reuse` measures it again without rebuilding), serves the API
with gunicorn (2 sync workers) and, for each cell, sends `--requests` GETs of the first page and as
many of the page at depth 10,000 (500,000 cases in; the last page when the filter matches fewer),
each with one client. It prints the table worst cell first, with the shared buffers the page's
query touched (EXPLAIN ANALYZE of the store's own query: the cost of a page follows the page, not
the table), and with `--write-docs` puts it into docs/BENCHMARKS.md. Without
DATABASE_URL/REDIS_URL it runs embedded servers under var/bench-lists.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests
from sqlalchemy.engine import make_url

from bench.book import PASSWORD, build_book, sample_values
from bench.cases import gunicorn
from bench.servers import servers

ROOT = Path(__file__).resolve().parent.parent
DEPTH_PAGES = 10_000
LIMIT = 50
SORTS = ("id", "-id", "due_amount", "-due_amount", "days_past_due", "-days_past_due", "updated_at", "-updated_at",
         "created_at", "-created_at", "priority", "-priority")


def filters(values: dict) -> dict[str, dict]:
    """The matrix's filters: name -> query. `as_agent` lists as that agent (its own queue, no
    parameter). Add a row here and it is measured with every sort (on_hold comes with Contact)."""
    return {
        "none": {},
        "status": {"status": "Pending"},
        "team": {"team": "legal"},
        "bank_code": {"bank_code": "KOTAK"},
        "region": {"region": "North"},
        "priority": {"priority": "Critical"},
        "min_dpd+max_dpd": {"min_dpd": 31, "max_dpd": 60},
        "assigned_to (own queue)": {"as_agent": True},
        "unassigned": {"unassigned": "true"},
        "q": {"q": values["q"]},
        "borrower": {"borrower": values["borrower"]},
        "borrower_ref": {"borrower_ref": values["borrower_ref"]},
        "team+priority": {"team": "legal", "priority": "Critical"},
        "region+status": {"region": "North", "status": "Escalated"},
        "promise": {"promise": "broken"},
        "on_hold": {"on_hold": "true"},
        "not on_hold": {"on_hold": "false"},
    }


@dataclass
class Cell:
    filter: str
    sort: str
    depth: str  # "first" or "page N"
    p50: float
    p95: float
    buffers: int  # shared buffers (hit + read) of the page's query
    db_ms: float  # its planning + execution time in PostgreSQL (EXPLAIN ANALYZE)
    rows: int  # items on the page


def case_filter(query: dict, agent_id: int):
    """The store's CaseFilter of a matrix query (an agent's own queue: assigned_to)."""
    from domain.case_queries import CaseFilter
    from domain.cases import CaseStatus, Priority
    from domain.promises import PromiseStatus
    from domain.users import Team

    q = {k: v for k, v in query.items() if k != "as_agent"}
    return CaseFilter(
        assigned_to=agent_id if query.get("as_agent") else None,
        unassigned=True if q.get("unassigned") == "true" else None,
        status=CaseStatus(q["status"]) if "status" in q else None, team=Team(q["team"]) if "team" in q else None,
        bank_code=q.get("bank_code"), region=q.get("region"),
        priority=Priority(q["priority"]) if "priority" in q else None,
        min_dpd=q.get("min_dpd"), max_dpd=q.get("max_dpd"), case_id_prefix=q.get("q"), borrower=q.get("borrower"),
        borrower_ref=q.get("borrower_ref"), promise=PromiseStatus(q["promise"]) if "promise" in q else None,
        on_hold={"true": True, "false": False}.get(q.get("on_hold")))


def deep_cursors(engine, query: dict, agent_id: int) -> dict[str, tuple[int, str | None]]:
    """sort -> (page number, cursor of the page at depth DEPTH_PAGES, or of the last page). One scan
    of the filter's cases per filter: percentile_disc over (sort value, id) finds the row before
    that page for every sort at once."""
    from sqlalchemy import func, literal_column, select

    from domain.case_queries import CaseSort
    from store import case_listing
    from store.tables import cases_processed
    from web.pagination import encode_cursor

    where = case_listing.conditions(case_filter(query, agent_id))
    with engine.connect() as conn:
        matching = conn.execute(select(func.count()).select_from(cases_processed).where(*where)).scalar_one()
        if matching <= LIMIT:
            return {sort: (1, None) for sort in SORTS}
        before = min(DEPTH_PAGES * LIMIT, (matching - 1) // LIMIT * LIMIT)  # rows before the deep page
        # the row just before the page: position `before` (1-based) ascending, from the end descending
        fraction, backwards = before / matching, (matching - before + 1) / matching
        keys = {}
        for field in ("id", "due_amount", "days_past_due", "updated_at", "created_at", "priority"):
            keys[field] = literal_column(f"percentile_disc(array[{fraction!r}, {backwards!r}]::float8[]) "
                                         f"WITHIN GROUP (ORDER BY ROW({field}, id))")
        row = conn.execute(select(*keys.values()).select_from(cases_processed).where(*where)).one()
        cursors = {}
        for (field, _), pair in zip(keys.items(), row):
            for sort, record in ((field, pair[0]), (f"-{field}", pair[1])):
                case_pk = int(record[1])  # (sort value, id), as text
                from store.cases import CaseStore

                case = CaseStore(conn).get(case_pk)
                cursors[sort] = (before // LIMIT + 1, encode_cursor(CaseSort.parse(sort).cursor_key(case)))
        return cursors


def page_buffers(engine, query: dict, agent_id: int, sort: str, cursor: str | None) -> tuple[int, float]:
    """Shared buffers (hit + read) and milliseconds (planning + execution) that EXPLAIN ANALYZE
    counts for the store's query of this page."""
    from sqlalchemy.dialects import postgresql

    from domain.case_queries import CaseSort
    from store.cases import listing_query
    from web.pagination import decode_cursor

    case_sort = CaseSort.parse(sort)
    after = case_sort.after(decode_cursor(cursor))
    sql = listing_query(case_filter(query, agent_id), case_sort, after=after, limit=LIMIT + 1).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_custom_plan")
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}").scalar_one()
    result = (plan if isinstance(plan, list) else json.loads(plan))[0]
    top = result["Plan"]
    return (top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0),
            result.get("Planning Time", 0) + result.get("Execution Time", 0))


def measure(session: requests.Session, base: str, params: dict, count: int) -> tuple[float, float, int]:
    """p50, p95 (ms) of `count` GETs, and the number of items."""
    times, items = [], 0
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(f"{base}/api/cases", params=params, timeout=60)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{params}: {response.status_code} {response.text[:300]}")
        items = len(response.json()["items"])
    q = statistics.quantiles(times, n=20, method="inclusive")
    return statistics.median(times), q[18], items


def login(base: str, email: str) -> requests.Session:
    session = requests.Session()
    response = session.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    response.raise_for_status()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


def run_matrix(database_url: str, redis_url: str, values: dict, count: int, only: set[str] | None) -> list[Cell]:
    from store.engine import get_engine

    engine = get_engine(database_url, jit=False)  # as the web's: page_buffers times the page as it runs there
    cells = []
    with gunicorn(database_url, redis_url) as base:
        admin, agent = login(base, "bench-admin@example.com"), login(base, values["agent_email"])
        for name, query in filters(values).items():
            if only and name not in only:
                continue
            cursors = deep_cursors(engine, query, values["agent_id"])
            session = agent if query.get("as_agent") else admin
            params = {k: v for k, v in query.items() if k != "as_agent"}
            for sort in SORTS:
                page, cursor = cursors[sort]
                for depth, extra in (("first", {}), (f"page {page:,}", {"cursor": cursor} if cursor else {})):
                    request = {**params, "sort": sort, "limit": LIMIT, **extra}
                    measure(session, base, request, 3)  # warm: pool, plan, pages
                    p50, p95, rows = measure(session, base, request, count)
                    buffers, db_ms = page_buffers(engine, query, values["agent_id"], sort, extra.get("cursor"))
                    cells.append(Cell(name, sort, depth, p50, p95, buffers, db_ms, rows))
            worst = max((c for c in cells if c.filter == name), key=lambda c: c.p95)
            print(f"  {name:<26} worst p95 {worst.p95:6.1f} ms ({worst.sort}, {worst.depth})", flush=True)
    return cells


def target(cell: Cell) -> float:
    return 50.0 if cell.filter == "borrower" else 30.0


def table(cells: list[Cell]) -> list[str]:
    """Markdown rows, the worst cell (p95 against its target) first."""
    lines = ["| filter | sort | page | p50 ms | p95 ms | target | buffers | db ms | items |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in sorted(cells, key=lambda c: c.p95 / target(c), reverse=True):
        mark = "✔" if c.p95 <= target(c) else "✘"
        lines.append(f"| {c.filter} | `{c.sort}` | {c.depth} | {c.p50:.1f} | {c.p95:.1f} | ≤ {target(c):.0f} {mark} "
                     f"| {c.buffers:,} | {c.db_ms:.1f} | {c.rows} |")
    return lines


def write_docs(section: list[str], cases: int) -> None:
    """Replace (or add) this book size's section of docs/BENCHMARKS.md between its markers."""
    path = ROOT / "docs" / "BENCHMARKS.md"
    begin, end = f"<!-- bench.lists {cases} -->", f"<!-- /bench.lists {cases} -->"
    text = path.read_text()
    block = "\n".join([begin, *section, end])
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30, help="requests per cell (≥ 30 for the record)")
    parser.add_argument("--reuse", action="store_true", help="measure the kept book when it has --cases cases")
    parser.add_argument("--only", help="comma-separated filter names (default: every one)")
    parser.add_argument("--write-docs", action="store_true", help="put the table into docs/BENCHMARKS.md")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE (read by python -m bench)")
    args = parser.parse_args()
    server_url, redis_url = servers("lists")
    database_url = build_book(server_url, args.cases, reuse=args.reuse)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        values = sample_values(conn)
    print(f"matrix values: {values}")
    load_before, started = os.getloadavg(), time.perf_counter()
    cells = run_matrix(database_url, redis_url, values, args.requests, set(args.only.split(",")) if args.only else None)
    load_after = os.getloadavg()
    failing = [c for c in cells if c.p95 > target(c)]
    rows = table(cells)
    print("\n".join(rows[:40]))
    print(f"{len(cells)} cells in {time.perf_counter() - started:.0f} s; {len(failing)} above target; "
          f"load {load_before[0]:.2f} -> {load_after[0]:.2f}")
    section = [
        f"## Listing matrix at {args.cases:,} cases (`bench/lists.py`)", "",
        f"`python -m bench.lists --cases {args.cases} --requests {args.requests} --reuse --write-docs` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {len(cells)} cells (filter × sort × first page / depth "
        f"{DEPTH_PAGES:,} or the last page), {args.requests} requests each through HTTP (gunicorn, 2 sync "
        f"workers, one client), {len(failing)} cell(s) above target; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after. Values: {', '.join(f'{k} `{v}`' for k, v in values.items())}. "
        "`buffers`: shared buffers the page's query touched, `db ms` its planning and execution time "
        "(one EXPLAIN ANALYZE of the store's own query). Worst first.", "",
        *rows, ""]
    if args.write_docs:
        write_docs(section, args.cases)
    if args.json:
        from bench.figures import save

        worst = {}  # the worst cell of each filter (the whole matrix is the docs' table)
        for c in cells:
            if c.filter not in worst or c.p95 > worst[c.filter].p95:
                worst[c.filter] = c
        save(args.json, "lists", {"cases": args.cases, "requests": args.requests},
             [("cells above target", len(failing), "cells"),
              *((f"{c.filter}: worst cell p95 ({c.sort}, {c.depth})", c.p95, "ms") for c in worst.values())])
    sys.exit(1 if failing else 0)


if __name__ == "__main__":
    main()

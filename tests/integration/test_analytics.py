"""Analytics against real PostgreSQL, Redis and Celery: every figure recomputed independently
here from the cases, payments and promises the test wrote, the collecting figures also held
against the domain's rules and made through the API, the first-snapshot 202, the CSV, debouncing
and freshness."""
from __future__ import annotations

import csv
import io
import itertools
import math
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import event, func, insert, select, text, update

from conftest import ROOT, settings_env, wait_for_job
from domain import analytics
from domain.events import CasesChanged
from domain.payments import Payment, PaymentMethod
from domain.promises import Promise, PromiseStatus
from store.tables import analytics_snapshots, cases_processed, jobs, payments, promises, users

CENT = Decimal("0.01")
STATUSES = ("Pending", "In Progress", "Resolved", "Escalated")
TEAMS = ("call_center", "field", "legal")
TEAM_OF = {"call_center_agent": "call_center", "field_agent": "field", "legal_team": "legal"}
START = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
# the contact figures of a test that records no contact and places no hold (tests/web/test_holds.py
# checks them with contacts and holds)
NO_CONTACTS = {"contacts": {"attempts": 0, "right_party": 0, "right_party_rate": None},
               "holds": {"dispute": 0, "cease": 0, "bankruptcy": 0, "attorney": 0, "pause": 0},
               "policy_violations": 0}
NO_COLLECTING = {"payments": {"count": 0, "amount": "0.00"},
                 "promises": {"open": 0, "kept": 0, "partial": 0, "broken": 0, "kept_rate": None}, **NO_CONTACTS}
_numbers = itertools.count(1)


def default_route(dpd: int) -> str:
    return "call_center" if dpd <= 30 else "field" if dpd <= 90 else "legal"


def aging_bucket(dpd: int) -> str:
    for label, upper in (("0-30", 30), ("31-60", 60), ("61-90", 90), ("91-180", 180)):
        if dpd <= upper:
            return label
    return "181+"


def insert_cases(engine, cases: list[dict]) -> None:
    """Write the cases in one statement; each dict gets its row id back."""
    base = {"bank_code": "HDFC", "loan_amount": Decimal("90000.00"), "priority": "Medium", "region": "North"}
    rows = [{**base, "borrower_name": f"Borrower {n}", "case_id": f"AN-{n:06d}",
             "team": default_route(c["days_past_due"]), **c} for n, c in zip(_numbers, cases)]
    with engine.begin() as conn:
        ids = conn.execute(insert(cases_processed).returning(cases_processed.c.id, sort_by_parameter_order=True),
                           rows).scalars().all()
    for case, case_pk in zip(cases, ids):
        case["id"] = case_pk


def case(dpd=10, status="Pending", due="100.00", assigned_to=None, recovered=None, created_at=START, resolved_at=None):
    return {"days_past_due": dpd, "status": status, "due_amount": Decimal(due), "assigned_to": assigned_to,
            "amount_recovered": None if recovered is None else Decimal(recovered), "created_at": created_at,
            "resolved_at": resolved_at}


def random_cases(rnd: random.Random, n: int, agent_ids: list[int]) -> list[dict]:
    """A mix with every status, the bucket edges, zero and full recoveries, microsecond times."""
    edges = [0, 30, 31, 60, 61, 90, 91, 180, 181, 720]
    out = []
    for _ in range(n):
        created = START + timedelta(seconds=rnd.randint(0, 60 * 86400), microseconds=rnd.randint(0, 999_999))
        due = Decimal(rnd.randint(0, 5_000_000)) / 100
        status = rnd.choice(STATUSES)
        resolved_at = recovered = None
        if status == "Resolved":
            resolved_at = created + timedelta(seconds=rnd.randint(0, 90 * 86400), microseconds=rnd.randint(0, 999_999))
            recovered = rnd.choice([Decimal(0), due, (due * Decimal(rnd.random())).quantize(CENT)])
        elif rnd.random() < 0.2:
            recovered = due  # stale amount on an open case (e.g. data loaded by hand): must not count
        out.append(case(rnd.choice(edges) if rnd.random() < 0.4 else rnd.randint(0, 400), status, str(due),
                        rnd.choice(agent_ids + [None, None]), None if recovered is None else str(recovered),
                        created, resolved_at))
    return out


def expected_summary(cases: list[dict], agents: list[dict], route=default_route, collecting=NO_COLLECTING) -> dict:
    """The contract's definitions, computed straight from the rows."""
    resolved = [c for c in cases if c["status"] == "Resolved"]
    open_cases = [c for c in cases if c["status"] != "Resolved"]
    days = [(c["resolved_at"] - c["created_at"]).total_seconds() / 86400 for c in resolved]
    due = sum((c["due_amount"] for c in cases), Decimal(0))
    recovered = sum((c["amount_recovered"] or Decimal(0) for c in resolved), Decimal(0))
    per_team = {t: {"open": sum(1 for c in open_cases if route(c["days_past_due"]) == t),
                    "total": sum(1 for c in cases if route(c["days_past_due"]) == t)} for t in TEAMS}
    per_team["unassigned"] = {"open": sum(1 for c in open_cases if c["assigned_to"] is None),
                              "total": sum(1 for c in cases if c["assigned_to"] is None)}
    per_agent = []
    for a in agents:
        mine = [c for c in cases if c["assigned_to"] == a["id"]]
        row = {"user_id": a["id"], "name": a["name"], "team": a["team"],
               "open": sum(1 for c in mine if c["status"] != "Resolved"),
               "resolved": sum(1 for c in mine if c["status"] == "Resolved")}
        if a["active"] or mine:
            per_agent.append(row)
    per_agent.sort(key=lambda r: (TEAMS.index(r["team"]), r["name"].casefold(), r["user_id"]))
    return {
        "total_cases": len(cases),
        "by_status": {s: sum(1 for c in cases if c["status"] == s) for s in STATUSES},
        "avg_resolution_days": sum(days) / len(days) if days else None,
        "per_team": per_team,
        "per_agent": per_agent,
        "total_due_amount": f"{due:.2f}",
        "total_recovered": f"{recovered:.2f}",
        "recovery_rate": float(recovered / due) if due else 0.0,
        "aging": {label: sum(1 for c in open_cases if aging_bucket(c["days_past_due"]) == label)
                  for label in ("0-30", "31-60", "61-90", "91-180", "181+")},
        "collecting": collecting,
    }


def expected_collecting(paid: list[dict], promised: list[dict], as_of: datetime) -> dict:
    """The contract's collecting figures, from the rows: the 30 UTC days ending on as_of's day; the
    instants after as_of − 30 days up to as_of; kept_rate to 4 decimals, half up, null without data."""
    today = as_of.astimezone(UTC).date()
    amounts = [p["amount"] for p in paid if p["reversed_at"] is None
               and today - timedelta(days=29) <= p["paid_on"] <= today]
    closed = [p["status"] for p in promised
              if p["closed_at"] is not None and as_of - timedelta(days=30) < p["closed_at"] <= as_of]
    kept, partial, broken = (closed.count(status) for status in ("kept", "partial", "broken"))
    outcomes = kept + partial + broken
    return {"payments": {"count": len(amounts), "amount": f"{sum(amounts, Decimal(0)):.2f}"},
            "promises": {"open": sum(p["status"] == "open" for p in promised), "kept": kept, "partial": partial,
                         "broken": broken, "kept_rate": math.floor(Fraction(kept, outcomes) * 10_000 + Fraction(1, 2))
                         / 10_000 if outcomes else None}, **NO_CONTACTS}


def assert_figures(summary: dict, expected: dict) -> None:
    for key in ("total_cases", "by_status", "per_team", "per_agent", "total_due_amount", "total_recovered", "aging",
                "collecting"):
        assert summary[key] == expected[key], key
    if expected["avg_resolution_days"] is None:
        assert summary["avg_resolution_days"] is None
    else:
        assert summary["avg_resolution_days"] == pytest.approx(expected["avg_resolution_days"], abs=1e-6)
    assert summary["recovery_rate"] == pytest.approx(expected["recovery_rate"], rel=1e-9, abs=1e-12)
    assert set(summary) == set(expected) | {"as_of"}


def refreshed(client, headers) -> dict:
    """POST /refresh, wait for the job, and check GET /summary serves its result."""
    response = client.post("/api/analytics/refresh", headers=headers)
    assert response.status_code == 202
    assert response.headers["Location"] == f"/api/jobs/{response.json['id']}"
    job = wait_for_job(client, headers, response.json["id"])
    assert job["state"] == "succeeded", job
    assert client.get("/api/analytics/summary", headers=headers).json == job["result"]
    return job["result"]


@pytest.fixture
def agents(make_user, engine) -> list[dict]:
    people = [("call_center_agent", "Asha"), ("call_center_agent", "=HYPERLINK(\"http://x\")"),
              ("field_agent", "Bela"), ("legal_team", "Chen"), ("field_agent", "Dana"), ("legal_team", "Eli")]
    made = [make_user(role, name=name) for role, name in people]
    with engine.begin() as conn:  # Dana and Eli left; Dana still has cases in the data below
        conn.execute(update(users).where(users.c.id.in_([made[4].id, made[5].id])).values(active=False))
    return [{"id": u.id, "name": u.name, "team": TEAM_OF[u.role.value], "active": i < 4} for i, u in enumerate(made)]


def test_every_figure_matches_an_independent_computation(client, admin_headers, worker, engine, agents):
    cases = random_cases(random.Random(5), 400, [a["id"] for a in agents[:5]])
    insert_cases(engine, cases)
    before = datetime.now(UTC)
    summary = refreshed(client, admin_headers)
    assert_figures(summary, expected_summary(cases, agents))
    assert summary["by_status"]["Resolved"] > 0 and summary["aging"]["181+"] > 0
    as_of = datetime.fromisoformat(summary["as_of"])
    assert as_of.utcoffset() == timedelta(0) and before - timedelta(seconds=5) < as_of <= datetime.now(UTC)


def test_per_team_follows_the_current_routing_bands_not_the_team_stored_at_ingest(client, admin_headers, worker,
                                                                                   engine, agents):
    cases = [case(dpd) for dpd in (0, 10, 11, 30, 31, 60, 61, 90, 91, 500)]
    insert_cases(engine, cases)
    with engine.begin() as conn:
        conn.execute(text("UPDATE assignment_bands SET max_dpd = CASE position WHEN 1 THEN 10 WHEN 2 THEN 60 END"))
    route = lambda dpd: "call_center" if dpd <= 10 else "field" if dpd <= 60 else "legal"  # noqa: E731
    summary = refreshed(client, admin_headers)
    assert summary["per_team"] == expected_summary(cases, agents, route)["per_team"]
    assert summary["per_team"]["legal"] == {"open": 4, "total": 4}


def test_no_cases_gives_zeros_a_null_average_and_the_active_agents(client, admin_headers, worker, agents):
    summary = refreshed(client, admin_headers)
    assert_figures(summary, expected_summary([], agents))
    assert summary["total_due_amount"] == "0.00" and summary["recovery_rate"] == 0.0
    assert [a["name"] for a in summary["per_agent"]] == ["=HYPERLINK(\"http://x\")", "Asha", "Bela", "Chen"]


def test_no_resolved_case_gives_a_null_average_and_nothing_recovered(client, admin_headers, worker, engine, agents):
    cases = [case(5, "Pending", "10.00"), case(45, "In Progress", "20.50", agents[2]["id"]),
             case(200, "Escalated", "0.01", agents[3]["id"])]
    insert_cases(engine, cases)
    summary = refreshed(client, admin_headers)
    assert_figures(summary, expected_summary(cases, agents))
    assert (summary["avg_resolution_days"], summary["total_recovered"], summary["recovery_rate"]) == (None, "0.00", 0.0)


def test_a_case_resolved_with_nothing_recovered_is_resolved_and_recovers_zero(client, admin_headers, worker, engine,
                                                                              agents):
    cases = [case(20, "Resolved", "300.00", agents[0]["id"], "0.00", START, START + timedelta(days=2, hours=6)),
             case(20, "Pending", "100.00")]
    insert_cases(engine, cases)
    summary = refreshed(client, admin_headers)
    assert_figures(summary, expected_summary(cases, agents))
    assert summary["avg_resolution_days"] == pytest.approx(2.25, abs=1e-9)
    money = (summary["total_due_amount"], summary["total_recovered"], summary["recovery_rate"])
    assert money == ("400.00", "0.00", 0.0)


def test_a_case_reopened_through_the_api_is_open_again_and_leaves_the_resolution_figures(client, admin_headers,
                                                                                         worker, engine, agents):
    agent = agents[0]["id"]
    cases = [case(12, "In Progress", "500.00", agent), case(70, "In Progress", "200.00", agent)]
    insert_cases(engine, cases)
    reopened, kept = cases[0]["id"], cases[1]["id"]
    for case_pk, body in ((reopened, {"status": "Resolved", "amount_recovered": "250.00"}),
                          (reopened, {"status": "In Progress", "comment": "payment bounced"}),
                          (kept, {"status": "Resolved", "amount_recovered": "120.00"})):
        response = client.patch(f"/api/cases/{case_pk}/update-status", json=body, headers=admin_headers)
        assert response.status_code == 200, response.json
    stored = [client.get(f"/api/cases/{case_pk}", headers=admin_headers).json for case_pk in (reopened, kept)]
    assert stored[0]["resolved_at"] is None
    resolution = datetime.fromisoformat(stored[1]["resolved_at"]) - datetime.fromisoformat(stored[1]["created_at"])
    summary = refreshed(client, admin_headers)
    assert summary["by_status"] == {"Pending": 0, "In Progress": 1, "Resolved": 1, "Escalated": 0}
    assert summary["avg_resolution_days"] == pytest.approx(resolution.total_seconds() / 86400, abs=1e-6)
    assert (summary["total_recovered"], summary["total_due_amount"]) == ("120.00", "700.00")
    assert summary["recovery_rate"] == pytest.approx(120 / 700)
    assert summary["aging"]["0-30"] == 1 and summary["aging"]["61-90"] == 0
    assert {"user_id": agent, "name": "Asha", "team": "call_center", "open": 1, "resolved": 1} in summary["per_agent"]


def insert_payments(engine, rows: list[dict]) -> None:
    """Write payments straight into the ledger (the API checks what the summary need not)."""
    with engine.begin() as conn:
        conn.execute(insert(payments), [{"bank_code": "HDFC", "reference": f"TX-{next(_numbers)}", "method": "transfer",
                                         **row} for row in rows])


def insert_promises(engine, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(promises), [{"amount": Decimal("100.00"), "due_date": date(2026, 1, 1), **row}
                                        for row in rows])


def random_ledger(rnd: random.Random, case_pks: list[int], now: datetime) -> tuple[list[dict], list[dict]]:
    """Payments and promises around the window's edges: paid 30 and 29 days before today, today and
    tomorrow; closed just before and after now − 30 days, at now and in the future; reversed
    payments, cancelled promises, and open ones taken long ago."""
    today = now.date()
    paid = []
    for n in range(300):
        offset = rnd.choice([-1, 0, 1, 29, 30, 31]) if n % 3 == 0 else rnd.randint(0, 60)
        paid.append({"case_pk": rnd.choice(case_pks), "amount": Decimal(rnd.randint(1, 500_000)) / 100,
                     "paid_on": today - timedelta(days=offset), "created_at": now - timedelta(days=offset),
                     "reversed_at": now - timedelta(hours=rnd.randint(0, 900)) if rnd.random() < 0.2 else None})
    edge = now - timedelta(days=30)
    promised = [{"case_pk": case_pk, "status": "open", "closed_at": None, "created_at": now - timedelta(days=200)}
                for case_pk in rnd.sample(case_pks, 25)]  # one open promise per case at most
    for n in range(200):
        closed_at = (rnd.choice([edge - timedelta(minutes=1), edge + timedelta(minutes=1), now + timedelta(hours=1)])
                     if n % 4 == 0 else now - timedelta(seconds=rnd.randint(0, 60 * 86400)))
        promised.append({"case_pk": rnd.choice(case_pks), "closed_at": closed_at,
                         "status": rnd.choice(["kept", "partial", "broken", "cancelled"]),
                         "created_at": closed_at - timedelta(days=10)})
    return paid, promised


def test_collecting_figures_match_an_independent_computation_and_the_domain_rules(client, admin_headers, worker,
                                                                                    engine, agents):
    cases = random_cases(random.Random(11), 60, [a["id"] for a in agents[:5]])
    insert_cases(engine, cases)
    paid, promised = random_ledger(random.Random(12), [c["id"] for c in cases], datetime.now(UTC))
    insert_payments(engine, paid)
    insert_promises(engine, promised)
    summary = refreshed(client, admin_headers)
    as_of = datetime.fromisoformat(summary["as_of"])
    expected = expected_collecting(paid, promised, as_of)
    assert_figures(summary, expected_summary(cases, agents, collecting=expected))
    figures = summary["collecting"]
    assert figures["payments"]["count"] > 0 and figures["promises"]["open"] == 25
    assert 0 < figures["promises"]["kept_rate"] < 1
    # the store's SQL is the set-based twin of the domain's rules
    window = analytics.collecting_window(as_of)
    rules = analytics.summarize([], [], as_of, payments=analytics.paid_in(window, [
        Payment(id=0, case_pk=p["case_pk"], case_id="", amount=p["amount"], paid_on=p["paid_on"], reference="",
                method=PaymentMethod.TRANSFER, created_by=None, created_at=p["created_at"],
                reversed_at=p["reversed_at"]) for p in paid]), promises=analytics.promised_in(window, [
        Promise(id=0, case_pk=p["case_pk"], case_id="", amount=Decimal(100), due_date=date(2026, 1, 1),
                status=PromiseStatus(p["status"]), paid=Decimal(0), created_by=None, created_at=p["created_at"],
                closed_at=p["closed_at"]) for p in promised]))
    assert figures == rules["collecting"]


def pay(client, headers, case_pk: int, amount: str, today: date) -> dict:
    response = client.post(f"/api/cases/{case_pk}/payments", headers=headers,
                           json={"amount": amount, "paid_on": today.isoformat(), "reference": f"API-{next(_numbers)}"})
    assert response.status_code == 201, response.json
    return response.json


def take_promise(client, headers, case_pk: int, amount: str, due_date: date) -> dict:
    response = client.post(f"/api/cases/{case_pk}/promises", headers=headers,
                           json={"amount": amount, "due_date": due_date.isoformat()})
    assert response.status_code == 201, response.json
    return response.json


def money_figures(summary: dict) -> dict:
    return {name: summary["collecting"][name] for name in ("payments", "promises")}


def test_payments_and_promises_made_through_the_api_show_in_the_collecting_figures(client, admin_headers, worker,
                                                                                   engine):
    cases = [case(10, "In Progress", "1000.00") for _ in range(6)]
    insert_cases(engine, cases)
    kept, partial, broken, cancelled, still_open, reversed_ = (c["id"] for c in cases)
    today = datetime.now(UTC).date()
    take_promise(client, admin_headers, kept, "300.00", today + timedelta(days=5))
    take_promise(client, admin_headers, partial, "200.00", today + timedelta(days=1))
    take_promise(client, admin_headers, broken, "100.00", today + timedelta(days=1))
    to_cancel = take_promise(client, admin_headers, cancelled, "100.00", today + timedelta(days=1))
    take_promise(client, admin_headers, still_open, "100.00", today + timedelta(days=30))
    pay(client, admin_headers, kept, "300.00", today)  # reaches the promise: kept now
    pay(client, admin_headers, partial, "50.25", today)
    bounced = pay(client, admin_headers, reversed_, "80.00", today)
    assert money_figures(refreshed(client, admin_headers)) == {
        "payments": {"count": 3, "amount": "430.25"},
        "promises": {"open": 4, "kept": 1, "partial": 0, "broken": 0, "kept_rate": 1.0}}

    response = client.post(f"/api/payments/{bounced['id']}/reverse", json={"reason": "cheque bounced"},
                           headers=admin_headers)
    assert response.status_code == 200, response.json
    response = client.post(f"/api/promises/{to_cancel['id']}/cancel", json={"reason": "borrower disputes"},
                           headers=admin_headers)
    assert response.status_code == 200, response.json
    evaluation = client.post("/api/promises/evaluate", json={"as_of": (today + timedelta(days=4)).isoformat()},
                             headers=admin_headers)  # past due + grace (2 days) for the two due tomorrow
    assert wait_for_job(client, admin_headers, evaluation.json["id"])["result"] == {"kept": 0, "partial": 1,
                                                                                   "broken": 1}
    assert money_figures(refreshed(client, admin_headers)) == {
        "payments": {"count": 2, "amount": "350.25"},
        "promises": {"open": 1, "kept": 1, "partial": 1, "broken": 1, "kept_rate": 0.3333}}


def test_the_collecting_figures_read_payments_and_promises_by_range_never_whole(uow):
    """Each statement is answered from an index, however many payments and promises there are: with
    sequential scans priced out, a plan that still scans a table has no index to serve it."""
    with uow() as u:
        statements: list[tuple] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        window = analytics.collecting_window(u.jobs.now())
        event.listen(u.connection, "before_cursor_execute", capture)
        u.analytics.payment_totals(window.first_day, window.last_day)
        u.analytics.promise_totals(closed_after=window.start, closed_until=window.end)
        event.remove(u.connection, "before_cursor_execute", capture)
        u.connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plans = ["\n".join(u.connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())
                 for statement, parameters in statements]
    assert len(plans) == 2 and not any("Seq Scan" in plan for plan in plans), plans
    assert "payments_paid_on_idx" in plans[0]
    assert "promises_open_due_idx" in plans[1] and "promises_closed_idx" in plans[1]


def test_the_summary_before_any_snapshot_is_a_202_with_the_job_computing_it(client, admin_headers, worker, engine,
                                                                            agents):
    insert_cases(engine, [case(3), case(33)])
    first = client.get("/api/analytics/summary", headers=admin_headers)
    assert first.status_code == 202 and first.json["type"] == "analytics"
    assert first.headers["Location"] == f"/api/jobs/{first.json['id']}"
    job = wait_for_job(client, admin_headers, first.json["id"])
    after = client.get("/api/analytics/summary", headers=admin_headers)
    assert after.status_code == 200 and after.json == job["result"] and after.json["total_cases"] == 2


def test_callers_without_a_snapshot_share_the_refresh_job_already_coming(uow):
    enqueued = []
    with uow() as u:
        first = analytics.ensure_refresh(u, enqueued.append, created_by=None)
    with uow() as u:
        again = analytics.ensure_refresh(u, enqueued.append, created_by=None)
        u.connection.execute(update(jobs).where(jobs.c.id == first.id).values(state="succeeded"))
        u.commit()
    with uow() as u:
        fresh = analytics.ensure_refresh(u, enqueued.append, created_by=None)
    assert again.id == first.id and fresh.id != first.id
    assert [j.id for j in enqueued] == [first.id, fresh.id]


def test_analytics_is_for_admins_only(client, agent_headers):
    _, headers = agent_headers("field_agent")
    for method, path in (("get", "/api/analytics/summary"), ("get", "/api/analytics/summary.csv"),
                         ("post", "/api/analytics/refresh")):
        assert getattr(client, method)(path, headers=headers).status_code == 403
        anonymous = getattr(client, method)(path)
        assert anonymous.status_code == 401 and anonymous.content_type == "application/problem+json"


def test_the_csv_holds_the_same_figures_with_formulas_defused(client, admin_headers, worker, engine, agents):
    cases = [case(15, "In Progress", "80.00", agents[1]["id"]),
             case(95, "Resolved", "40.00", agents[3]["id"], "40.00", START, START + timedelta(days=1))]
    insert_cases(engine, cases)
    insert_payments(engine, [{"case_pk": cases[1]["id"], "amount": Decimal("40.00"),
                              "paid_on": datetime.now(UTC).date()}])
    summary = refreshed(client, admin_headers)
    response = client.get("/api/analytics/summary.csv", headers=admin_headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"collection-summary-")
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    blocks, block = [], []
    for row in csv.reader(io.StringIO(body[1:])):
        if row:
            block.append(row)
        else:
            blocks.append(block)
            block = []
    overview, statuses, teams, aging, per_agent, collecting = blocks + [block]
    assert dict(overview[1:]) == {k: "" if summary[k] is None else str(summary[k]) for k in (
        "as_of", "total_cases", "total_due_amount", "total_recovered", "recovery_rate", "avg_resolution_days")}
    assert {s: int(n) for s, n in statuses[1:]} == summary["by_status"]
    assert {t: {"open": int(o), "total": int(n)} for t, o, n in teams[1:]} == summary["per_team"]
    assert {b: int(n) for b, n in aging[1:]} == summary["aging"]
    assert per_agent[0] == ["agent_id", "name", "team", "open", "resolved"]
    names = [row[1] for row in per_agent[1:]]
    assert names == ["'" + a["name"] if a["name"].startswith("=") else a["name"] for a in summary["per_agent"]]
    assert "'=HYPERLINK(\"http://x\")" in names
    assert collecting == [["collecting", "value"], ["payments.count", "1"], ["payments.amount", "40.00"],
                          ["promises.open", "0"], ["promises.kept", "0"], ["promises.partial", "0"],
                          ["promises.broken", "0"], ["promises.kept_rate", ""],  # null: no promise closed
                          ["contacts.attempts", "0"], ["contacts.right_party", "0"], ["contacts.right_party_rate", ""],
                          *[[f"holds.{kind}", "0"] for kind in ("dispute", "cease", "bankruptcy", "attorney", "pause")],
                          ["policy_violations", "0"]]
    assert summary["collecting"]["payments"] == {"count": 1, "amount": "40.00"}


def test_a_snapshot_stored_before_the_collecting_figures_is_served_without_them(client, admin_headers, worker, engine):
    old = {key: value for key, value in refreshed(client, admin_headers).items() if key != "collecting"}
    with engine.begin() as conn:
        conn.execute(insert(analytics_snapshots).values(as_of=func.now() + timedelta(minutes=1), summary=old))
    assert client.get("/api/analytics/summary", headers=admin_headers).json == old
    response = client.get("/api/analytics/summary.csv", headers=admin_headers)
    assert response.status_code == 200 and "collecting" not in response.get_data(as_text=True)


def test_old_snapshots_are_pruned_when_a_new_one_is_stored(client, admin_headers, worker, engine):
    with engine.begin() as conn:
        conn.execute(insert(analytics_snapshots).values(as_of=func.now() - timedelta(days=8), summary={"old": True}))
    refreshed(client, admin_headers)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(analytics_snapshots)).scalar() == 1


def analytics_jobs(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(jobs).where(jobs.c.type == "analytics").order_by(jobs.c.created_at)).all()


def test_a_burst_of_a_thousand_refresh_requests_starts_one_job_that_sees_the_whole_window(app, client, admin_headers,
                                                                                         worker, engine):
    window = analytics.REFRESH_DEBOUNCE_SECONDS
    with app.app_context():
        bus = app.extensions["dcoe"].bus

        def refresh_soon():  # what the web's bus does after a status change commits
            bus.publish([CasesChanged("status")])

        started = time.monotonic()
        for _ in range(1000):
            refresh_soon()
        burst = time.monotonic() - started
        insert_cases(engine, [case(7)])  # a change late in the window
        coming = analytics_jobs(engine)
        assert 1 <= len(coming) <= 1 + burst / window
        assert coming[0].created_by is None
        job = wait_for_job(client, admin_headers, str(coming[0].id), timeout=30)
        assert job["result"]["total_cases"] == 1
        assert (coming[0].created_at + timedelta(seconds=window - 0.5)).isoformat() <= job["started_at"]
        refresh_soon()  # the window has closed: the next change opens another
    assert len(analytics_jobs(engine)) == len(coming) + 1


def test_beat_refreshes_the_snapshot_within_the_interval(uow, worker, settings, engine, tmp_path):
    interval = 2
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "-s", str(tmp_path / "beat-schedule"),
         "--loglevel", "INFO"], cwd=ROOT, env=settings_env(settings, ANALYTICS_INTERVAL_SECONDS=interval),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for expected_total in (0, 1, 2):
            if expected_total:
                insert_cases(engine, [case(expected_total)])
            changed = time.monotonic()
            while True:
                with uow() as u:
                    summary = analytics.latest_summary(u)
                if summary is not None and summary["total_cases"] == expected_total:
                    break
                assert time.monotonic() - changed < 30, "beat never refreshed the snapshot"
                time.sleep(0.1)
            if expected_total:  # the first round only waited for beat to start
                assert time.monotonic() - changed <= interval + 3  # one interval, plus the job on a busy box
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(20)
    assert all(job.created_by is None for job in analytics_jobs(engine))


def wait_for_snapshot(uow, matches, timeout: float) -> tuple[dict, float]:
    """The first latest snapshot for which `matches` holds, and how long it took to appear."""
    started = time.monotonic()
    while True:
        with uow() as u:
            summary = analytics.latest_summary(u)
        if summary is not None and matches(summary):
            return summary, time.monotonic() - started
        assert time.monotonic() - started < timeout, f"no matching snapshot after {timeout}s: {summary}"
        time.sleep(0.1)


def test_a_succeeded_ingest_job_refreshes_the_snapshot_without_beat(client, admin_headers, worker, uow, gen_cases):
    assert refreshed(client, admin_headers)["total_cases"] == 0
    upload = client.post("/api/cases/upload", data=gen_cases(30), headers={**admin_headers, "Content-Type": "text/csv"})
    assert upload.status_code == 202, upload.json
    assert wait_for_job(client, admin_headers, upload.json["id"])["state"] == "succeeded"
    summary, waited = wait_for_snapshot(uow, lambda s: s["total_cases"] == 30, timeout=30)
    assert waited <= analytics.REFRESH_DEBOUNCE_SECONDS + 3  # beat is off in the test settings
    assert summary["by_status"]["Pending"] == 30 and summary["per_team"]["unassigned"]["open"] == 30


def test_a_succeeded_assign_job_refreshes_the_snapshot_without_beat(client, admin_headers, worker, uow, engine,
                                                                     agents):
    insert_cases(engine, [case(5), case(50), case(150), case(20)])
    assert refreshed(client, admin_headers)["per_team"]["unassigned"]["open"] == 4
    run = client.post("/api/cases/assign", json={}, headers=admin_headers)
    assert run.status_code == 202, run.json
    assert wait_for_job(client, admin_headers, run.json["id"])["result"]["assigned"] == 4
    summary, waited = wait_for_snapshot(uow, lambda s: s["per_team"]["unassigned"]["open"] == 0, timeout=30)
    assert waited <= analytics.REFRESH_DEBOUNCE_SECONDS + 3
    assert sum(a["open"] for a in summary["per_agent"]) == 4


def test_the_openapi_document_describes_the_summary_and_the_first_job(client):
    spec = client.get("/openapi.json").json
    summary = spec["paths"]["/api/analytics/summary"]["get"]["responses"]
    assert {"200", "202"} <= set(summary)
    schema = spec["components"]["schemas"]["Summary"]
    assert "unassigned" in schema["properties"]["per_team"]["description"]
    assert set(spec["components"]["schemas"]["ByStatus"]["properties"]) == set(STATUSES)
    collecting = spec["components"]["schemas"]["Collecting"]
    assert set(collecting["properties"]) == {"payments", "promises", "contacts", "holds", "policy_violations"}
    assert "collecting" in schema["required"]
    rate = spec["components"]["schemas"]["PromiseFigures"]["properties"]["kept_rate"]
    assert rate["nullable"] is True and "null" in rate["description"]

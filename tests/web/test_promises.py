"""Promises to pay through HTTP: take, list, cancel; kept by payments on their threshold; closed by
the promises job (the real worker) only after due date + grace; their history."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import login, today, wait_for_job

PROBLEM = "application/problem+json"


DUE = today() + timedelta(days=5)
PROMISE_KEYS = {"id", "case_id", "amount", "due_date", "status", "paid", "created_by", "created_at", "closed_at"}


@pytest.fixture(autouse=True)
def no_payments(engine, clean_db):
    """The ledger starts empty too (the suite's cleanup truncates the cases, not the payments)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")


@pytest.fixture
def agent(client, make_user):
    user = make_user("call_center_agent")
    return user, login(client, user.email)


def promise(client, headers, case_pk, amount="300.00", due_date: date = DUE, **extra):
    body = {"amount": amount, "due_date": due_date.isoformat(), **extra}
    return client.post(f"/api/cases/{case_pk}/promises", json=body, headers=headers)


def pay(client, headers, case_pk, amount, reference, paid_on: date | None = None):
    paid_on = paid_on or today()
    response = client.post(f"/api/cases/{case_pk}/payments", headers=headers,
                           json={"amount": amount, "paid_on": paid_on.isoformat(), "reference": reference})
    assert response.status_code == 201, response.json
    return response.json


def promises_of(client, headers, case_pk) -> list[dict]:
    response = client.get(f"/api/cases/{case_pk}/promises", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["items"]


def evaluate(client, headers, as_of: date | None) -> dict:
    response = client.post("/api/promises/evaluate", json={} if as_of is None else {"as_of": as_of.isoformat()},
                           headers=headers)
    assert response.status_code == 202, response.json
    assert (response.json["type"], response.headers["Location"]) == ("promises", f"/api/jobs/{response.json['id']}")
    job = wait_for_job(client, headers, response.json["id"])
    assert job["state"] == "succeeded", job
    return job


def test_an_agent_takes_a_promise_on_its_case_as_the_contracts_resource(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, due_amount="1000.00", case_id="BANK-9")
    response = promise(client, headers, case_pk, 300)
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == PROMISE_KEYS
    assert (body["case_id"], body["amount"], body["due_date"], body["status"], body["paid"]) == (
        "BANK-9", "300.00", DUE.isoformat(), "open", "0.00")
    assert (body["created_by"], body["closed_at"]) == (user.id, None)
    assert client.get(f"/api/cases/{case_pk}", headers=headers).json["promise"] == body
    assert promises_of(client, headers, case_pk) == [body]


def test_a_second_open_promise_is_409_and_one_after_a_cancel_is_taken(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id)
    first = promise(client, headers, case_pk).json
    second = promise(client, headers, case_pk, "10.00")
    assert (second.status_code, second.content_type) == (409, PROBLEM)
    cancelled = client.post(f"/api/promises/{first['id']}/cancel", json={"reason": "wrong date"}, headers=headers)
    assert cancelled.status_code == 200
    assert (cancelled.json["status"], cancelled.json["closed_at"] is not None) == ("cancelled", True)
    assert promise(client, headers, case_pk, "10.00").status_code == 201
    assert [p["status"] for p in promises_of(client, headers, case_pk)] == ["cancelled", "open"]


def test_cancelling_a_closed_promise_is_409(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id)
    taken = promise(client, headers, case_pk).json
    url = f"/api/promises/{taken['id']}/cancel"
    assert client.post(url, json={"reason": "first"}, headers=headers).status_code == 200
    again = client.post(url, json={"reason": "second"}, headers=headers)
    assert (again.status_code, again.content_type) == (409, PROBLEM)
    assert client.post("/api/promises/987654/cancel", json={"reason": "x"}, headers=headers).status_code == 404


BAD_BODIES = [
    ({"amount": "1000.01"}, "amount"), ({"amount": 0}, "amount"), ({"amount": "-5"}, "amount"),
    ({"amount": "1.001"}, "amount"), ({"amount": "1e400"}, "amount"), ({"amount": "abc"}, "amount"),
    ({"amount": None}, "amount"), ({"due_date": (today() - timedelta(days=1)).isoformat()}, "due_date"),
    ({"due_date": (today() + timedelta(days=31)).isoformat()}, "due_date"), ({"due_date": "2026-02-30"}, "due_date"),
    ({"due_date": "soon"}, "due_date"), ({"due_date": None}, "due_date"), ({"status": "kept"}, "status"),
    ({"paid": "300.00"}, "paid"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES, ids=[f"{f}={c[f]!r}"[:40] for c, f in BAD_BODIES])
def test_a_promise_with_bad_input_is_a_400_problem_naming_the_field(client, make_case, admin_headers, change, field):
    case_pk = make_case(due_amount="1000.00")
    body = {"amount": "10.00", "due_date": DUE.isoformat(), **change}
    response = client.post(f"/api/cases/{case_pk}/promises", json=body, headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM), response.get_data(as_text=True)
    assert field in response.json["errors"]
    assert promises_of(client, admin_headers, case_pk) == []


def test_a_promise_may_fall_due_today_or_on_the_last_day_allowed(client, make_case, admin_headers):
    assert promise(client, admin_headers, make_case(), due_date=today()).status_code == 201
    assert promise(client, admin_headers, make_case(), due_date=today() + timedelta(days=30)).status_code == 201


def test_an_agent_takes_reads_and_cancels_promises_of_its_own_cases_only(client, make_case, make_user, agent,
                                                                       admin_headers):
    user, headers = agent
    theirs = make_case(assigned_to=make_user("call_center_agent").id)
    assert promise(client, headers, theirs).status_code == 403
    assert client.get(f"/api/cases/{theirs}/promises", headers=headers).status_code == 404
    taken = promise(client, admin_headers, theirs).json
    refused = client.post(f"/api/promises/{taken['id']}/cancel", json={"reason": "x"}, headers=headers)
    assert (refused.status_code, refused.content_type) == (403, PROBLEM)
    assert promises_of(client, admin_headers, theirs)[0]["status"] == "open"
    assert promise(client, headers, 987654).status_code == 404


def test_a_payment_keeps_the_promise_on_the_exact_threshold(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, due_amount="1000.00")
    taken = promise(client, headers, case_pk, "300.00").json
    pay(client, headers, case_pk, "299.99", "A")
    assert client.get(f"/api/cases/{case_pk}", headers=headers).json["promise"]["paid"] == "299.99"
    pay(client, headers, case_pk, "0.01", "B")
    [kept] = promises_of(client, headers, case_pk)
    assert (kept["id"], kept["status"], kept["paid"], kept["closed_at"] is not None) == (taken["id"], "kept",
                                                                                         "300.00", True)
    assert client.get(f"/api/cases/{case_pk}", headers=headers).json["promise"] is None


def test_a_payment_dated_before_the_promise_does_not_count(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, due_amount="1000.00")
    promise(client, headers, case_pk, "300.00")
    pay(client, headers, case_pk, "300.00", "OLD", paid_on=today() - timedelta(days=1))
    [still_open] = promises_of(client, headers, case_pk)
    assert (still_open["status"], still_open["paid"]) == ("open", "0.00")


def test_a_reversal_lowers_what_an_open_promise_counts_and_never_a_closed_ones(client, make_case, agent,
                                                                               admin_headers):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, due_amount="1000.00")
    promise(client, headers, case_pk, "300.00")
    first = pay(client, headers, case_pk, "200.00", "A")
    client.post(f"/api/payments/{first['id']}/reverse", json={"reason": "bounced"}, headers=admin_headers)
    assert promises_of(client, headers, case_pk)[0]["paid"] == "0.00"
    second = pay(client, headers, case_pk, "300.00", "B")
    client.post(f"/api/payments/{second['id']}/reverse", json={"reason": "bounced"}, headers=admin_headers)
    [closed] = promises_of(client, headers, case_pk)
    assert (closed["status"], closed["paid"]) == ("kept", "300.00")


def test_the_job_closes_promises_only_after_due_date_and_grace(client, make_case, admin_headers, worker):
    broken, partial, kept = (make_case(due_amount="1000.00") for _ in range(3))
    for case_pk in (broken, partial, kept):
        promise(client, admin_headers, case_pk, "300.00")
    pay(client, admin_headers, partial, "100.00", "P")
    pay(client, admin_headers, kept, "300.00", "K")  # kept as it was paid
    on_grace = evaluate(client, admin_headers, DUE + timedelta(days=2))
    assert on_grace["result"] == {"kept": 0, "partial": 0, "broken": 0}
    assert on_grace["params"] == {"as_of": (DUE + timedelta(days=2)).isoformat()}
    after = evaluate(client, admin_headers, DUE + timedelta(days=3))
    assert after["result"] == {"kept": 0, "partial": 1, "broken": 1}
    statuses = {case_pk: promises_of(client, admin_headers, case_pk)[0] for case_pk in (broken, partial, kept)}
    assert {k: (v["status"], v["paid"]) for k, v in statuses.items()} == {
        broken: ("broken", "0.00"), partial: ("partial", "100.00"), kept: ("kept", "300.00")}
    assert all(v["closed_at"] is not None for v in statuses.values())
    again = evaluate(client, admin_headers, DUE + timedelta(days=3))
    assert again["result"] == {"kept": 0, "partial": 0, "broken": 0}
    assert promises_of(client, admin_headers, broken)[0]["closed_at"] == statuses[broken]["closed_at"]


def test_the_job_decides_on_today_by_default_and_is_for_admins_only(client, make_case, admin_headers, agent,
                                                                    worker):
    promise(client, admin_headers, make_case(), due_date=today())
    job = evaluate(client, admin_headers, None)
    assert job["params"] == {"as_of": today().isoformat()} and job["result"] == {"kept": 0, "partial": 0, "broken": 0}
    assert client.post("/api/promises/evaluate", json={}, headers=agent[1]).status_code == 403
    for body in ({"as_of": "tomorrow"}, {"as_of": "2026-02-30"}, {"as_of": "2026-01-01", "kept": 1}):
        response = client.post("/api/promises/evaluate", json=body, headers=admin_headers)
        assert (response.status_code, response.content_type) == (400, PROBLEM), body


def test_a_promise_taken_and_closed_is_in_the_cases_history(client, make_case, agent, admin_headers, worker):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, due_amount="1000.00")
    first = promise(client, headers, case_pk, "300.00").json
    client.post(f"/api/promises/{first['id']}/cancel", json={"reason": "wrong amount"}, headers=headers)
    promise(client, headers, case_pk, "250.00")
    pay(client, headers, case_pk, "50.00", "A")
    evaluate(client, admin_headers, DUE + timedelta(days=3))
    entries = client.get(f"/api/cases/{case_pk}/history", headers=headers).json
    assert [(e["kind"], e["from"], e["to"], e["by"], e["comment"]) for e in entries
            if e["kind"] in ("promise", "payment")] == [
        ("promise", None, "open", user.id, f"300.00 by {DUE.isoformat()}"),
        ("promise", "open", "cancelled", user.id, "wrong amount"),
        ("promise", None, "open", user.id, f"250.00 by {DUE.isoformat()}"),
        ("payment", None, "50.00", user.id, "A (other)"),
        ("promise", "open", "partial", None, "paid 50.00 of 250.00"),
    ]


def test_the_openapi_document_describes_the_promise_routes(client):
    paths = client.get("/openapi.json").json["paths"]
    assert {"201", "400", "403", "404", "409"} <= set(paths["/api/cases/{case_id}/promises"]["post"]["responses"])
    assert {"200", "403", "404", "409"} <= set(paths["/api/promises/{promise_id}/cancel"]["post"]["responses"])
    assert "202" in paths["/api/promises/evaluate"]["post"]["responses"]
    listing = {p["name"] for p in paths["/api/cases"]["get"]["parameters"] if p["name"] == "promise"}
    assert listing == {"promise"}

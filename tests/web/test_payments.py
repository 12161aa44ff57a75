"""Payments through HTTP: record, list, reverse; the ledger's effect on the case, its history, and
the rules that refuse a payment; two payments racing for one balance."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from threading import Barrier

import pytest

from conftest import login, today

PROBLEM = "application/problem+json"


PAYMENT_KEYS = {"id", "case_id", "amount", "paid_on", "reference", "method", "reversed_at", "created_by", "created_at"}


@pytest.fixture(autouse=True)
def no_payments(engine, clean_db):
    """The ledger starts empty too (the suite's cleanup truncates the cases, not the payments)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")


@pytest.fixture
def agent(client, make_user):
    user = make_user("call_center_agent")
    return user, login(client, user.email)


def pay(client, headers, case_pk, amount="100.00", reference="REF-1", **extra):
    body = {"amount": amount, "paid_on": today().isoformat(), "reference": reference, **extra}
    return client.post(f"/api/cases/{case_pk}/payments", json=body, headers=headers)


def case(client, headers, case_pk) -> dict:
    return client.get(f"/api/cases/{case_pk}", headers=headers).json


def history(client, headers, case_pk, kind=None) -> list[dict]:
    entries = client.get(f"/api/cases/{case_pk}/history", headers=headers).json
    return [e for e in entries if kind is None or e["kind"] == kind]


def payments_of(client, headers, case_pk, **query) -> list[dict]:
    response = client.get(f"/api/cases/{case_pk}/payments", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json["items"]


def test_an_agent_records_a_payment_on_its_case_as_the_contracts_resource(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="1000.00", case_id="BANK-77")
    response = pay(client, headers, case_pk, "250.50", "TR-9001", method="card", paid_on="2026-01-15")
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == PAYMENT_KEYS
    assert (body["case_id"], body["amount"], body["paid_on"], body["reference"], body["method"]) == (
        "BANK-77", "250.50", "2026-01-15", "TR-9001", "card")
    assert (body["reversed_at"], body["created_by"]) == (None, user.id)
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    stored = case(client, headers, case_pk)
    assert (stored["amount_recovered"], stored["balance"], stored["status"], stored["version"]) == (
        "250.50", "749.50", "In Progress", 2)


@pytest.mark.parametrize(("given", "stored"), [(12, "12.00"), (12.5, "12.50"), ("12.5", "12.50"), ("0.01", "0.01"),
                                               ("1000", "1000.00"), ("1e2", "100.00")])
def test_an_amount_is_taken_as_a_json_number_or_a_string(client, make_case, admin_headers, given, stored):
    response = pay(client, admin_headers, make_case(due_amount="1000.00"), given)
    assert response.status_code == 201, response.json
    assert response.json["amount"] == stored


def test_the_method_defaults_to_other(client, make_case, admin_headers):
    assert pay(client, admin_headers, make_case()).json["method"] == "other"


BAD_BODIES = [
    ({"amount": "12.345"}, "amount"), ({"amount": 12.345}, "amount"), ({"amount": -1}, "amount"),
    ({"amount": "-0.01"}, "amount"), ({"amount": 0}, "amount"), ({"amount": "1e400"}, "amount"),
    ({"amount": 1e20}, "amount"), ({"amount": "999999999999999999.99"}, "amount"), ({"amount": "abc"}, "amount"),
    ({"amount": True}, "amount"), ({"amount": None}, "amount"), ({"amount": []}, "amount"),
    ({"amount": "NaN"}, "amount"), ({"amount": "Infinity"}, "amount"), ({"amount": "1000.01"}, "amount"),
    ({"paid_on": "2026-13-01"}, "paid_on"), ({"paid_on": "2026-02-30"}, "paid_on"),
    ({"paid_on": "yesterday"}, "paid_on"),
    ({"paid_on": 20260101}, "paid_on"), ({"paid_on": "2026-01-01T10:00:00"}, "paid_on"),
    ({"paid_on": (today() + timedelta(days=1)).isoformat()}, "paid_on"),
    ({"method": "bitcoin"}, "method"), ({"method": "settlement"}, "method"), ({"method": None}, "method"),
    ({"reference": ""}, "reference"), ({"reference": "   "}, "reference"), ({"reference": "r" * 129}, "reference"),
    ({"reference": 42}, "reference"), ({"status": "Resolved"}, "status"), ({"created_by": 1}, "created_by"),
]


@pytest.mark.parametrize(("change", "field"), BAD_BODIES, ids=[f"{f}={c[f]!r}"[:40] for c, f in BAD_BODIES])
def test_a_payment_with_bad_input_is_a_400_problem_naming_the_field_and_writes_nothing(client, make_case,
                                                                                      admin_headers, change, field):
    case_pk = make_case(due_amount="1000.00")
    body = {"amount": "10.00", "paid_on": today().isoformat(), "reference": "REF-1", **change}
    response = client.post(f"/api/cases/{case_pk}/payments", json=body, headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM), response.get_data(as_text=True)
    assert field in response.json["errors"]
    assert payments_of(client, admin_headers, case_pk) == []
    assert case(client, admin_headers, case_pk)["version"] == 1


@pytest.mark.parametrize("missing", ["amount", "paid_on", "reference"])
def test_a_payment_missing_a_field_is_400(client, make_case, admin_headers, missing):
    body = {"amount": "10.00", "paid_on": today().isoformat(), "reference": "REF-1"}
    del body[missing]
    response = client.post(f"/api/cases/{make_case()}/payments", json=body, headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM)
    assert missing in response.json["errors"]


def test_a_body_that_is_not_a_json_object_is_400(client, make_case, admin_headers):
    for data in ("{amount", "[]", '"x"'):
        response = client.post(f"/api/cases/{make_case()}/payments", data=data,
                               headers={**admin_headers, "Content-Type": "application/json"})
        assert (response.status_code, response.content_type) == (400, PROBLEM), data


def test_an_overpayment_is_400_and_the_rest_of_the_balance_still_fits(client, make_case, admin_headers):
    case_pk = make_case(due_amount="1000.00")
    assert pay(client, admin_headers, case_pk, "600.00", "A").status_code == 201
    over = pay(client, admin_headers, case_pk, "400.01", "B")
    assert over.status_code == 400 and over.json["errors"]["amount"] == ["must not exceed the case's balance 400.00"]
    assert pay(client, admin_headers, case_pk, "400.00", "C").status_code == 201


def test_the_same_reference_amount_and_case_again_is_200_with_the_first_payment_and_writes_nothing(
        client, make_case, admin_headers):
    case_pk = make_case(due_amount="1000.00")
    first = pay(client, admin_headers, case_pk, "100.00", "DUP-1")
    again = pay(client, admin_headers, case_pk, 100, "DUP-1", method="cash", paid_on="2026-01-01")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert len(payments_of(client, admin_headers, case_pk)) == 1
    assert (case(client, admin_headers, case_pk)["amount_recovered"], case(client, admin_headers, case_pk)["version"]) \
        == ("100.00", 2)


def test_a_reference_the_bank_used_for_another_amount_or_case_is_409(client, make_case, admin_headers):
    case_pk, sibling = make_case(due_amount="1000.00"), make_case(due_amount="1000.00")  # same bank
    assert pay(client, admin_headers, case_pk, "100.00", "REF-X").status_code == 201
    for target, amount in ((case_pk, "100.01"), (sibling, "100.00")):
        response = pay(client, admin_headers, target, amount, "REF-X")
        assert (response.status_code, response.content_type) == (409, PROBLEM)
        assert "reference" in response.json["errors"]
    assert payments_of(client, admin_headers, sibling) == []
    other_bank = make_case(bank_code="ICICI")
    assert pay(client, admin_headers, other_bank, "100.00", "REF-X").status_code == 201  # unique per bank only


def test_an_agent_pays_only_its_own_cases_and_reads_only_their_payments(client, make_case, make_user, agent):
    user, headers = agent
    theirs = make_case(assigned_to=make_user("call_center_agent").id)
    nobodys = make_case()
    for case_pk in (theirs, nobodys):
        assert pay(client, headers, case_pk).status_code == 403
        listed = client.get(f"/api/cases/{case_pk}/payments", headers=headers)
        assert (listed.status_code, listed.content_type) == (404, PROBLEM)
    assert pay(client, headers, 987654).status_code == 404
    assert client.get("/api/cases/987654/payments", headers=headers).status_code == 404


def test_paying_the_balance_resolves_the_case_paid_in_full_with_its_agent(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="300.00")
    pay(client, headers, case_pk, "100.00", "A")
    pay(client, headers, case_pk, "200.00", "B")
    stored = case(client, headers, case_pk)
    assert (stored["status"], stored["balance"], stored["assigned_to"]) == ("Resolved", "0.00", user.id)
    assert stored["resolved_at"] is not None
    moves = history(client, headers, case_pk, "status")
    assert [(e["from"], e["to"], e["by"], e["comment"]) for e in moves] == [
        ("In Progress", "Resolved", user.id, "paid in full")]
    assert pay(client, headers, case_pk, "0.01", "C").status_code == 400  # nothing left to pay


def test_a_payment_and_its_reversal_are_in_the_cases_history(client, make_case, admin_headers, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="300.00")
    payment = pay(client, headers, case_pk, "120.00", "TR-5", method="transfer").json
    client.post(f"/api/payments/{payment['id']}/reverse", json={"reason": "bounced"}, headers=admin_headers)
    entries = history(client, headers, case_pk, "payment")
    admin_id = client.get("/api/auth/me", headers=admin_headers).json["id"]
    assert [(e["from"], e["to"], e["by"], e["comment"]) for e in entries] == [
        (None, "120.00", user.id, "TR-5 (transfer)"), ("120.00", None, admin_id, "reversed TR-5: bounced")]
    assert entries[0]["at"] == payment["created_at"]


def test_an_admin_reverses_a_payment_once(client, make_case, admin_headers, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, due_amount="300.00")
    payment = pay(client, headers, case_pk, "120.00").json
    url = f"/api/payments/{payment['id']}/reverse"
    assert client.post(url, json={"reason": "mine"}, headers=headers).status_code == 403
    reversed_payment = client.post(url, json={"reason": "bounced"}, headers=admin_headers)
    assert reversed_payment.status_code == 200
    assert reversed_payment.json["reversed_at"] is not None
    assert {k: v for k, v in reversed_payment.json.items() if k != "reversed_at"} == {
        k: v for k, v in payment.items() if k != "reversed_at"}
    again = client.post(url, json={"reason": "again"}, headers=admin_headers)
    assert (again.status_code, again.content_type) == (409, PROBLEM)
    stored = case(client, headers, case_pk)
    assert (stored["amount_recovered"], stored["balance"], stored["version"]) == (None, "300.00", 3)
    assert payments_of(client, headers, case_pk)[0]["reversed_at"] == reversed_payment.json["reversed_at"]
    assert client.post("/api/payments/987654/reverse", json={"reason": "x"}, headers=admin_headers).status_code == 404


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": "x", "amount": "1.00"}])
def test_a_reversal_needs_a_reason_and_nothing_else(client, make_case, admin_headers, body):
    payment = pay(client, admin_headers, make_case()).json
    response = client.post(f"/api/payments/{payment['id']}/reverse", json=body, headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM)


def test_a_reversal_reopens_a_case_a_payment_resolved_with_the_same_agent(client, make_case, admin_headers, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="300.00")
    payment = pay(client, headers, case_pk, "300.00").json
    assert case(client, headers, case_pk)["status"] == "Resolved"
    client.post(f"/api/payments/{payment['id']}/reverse", json={"reason": "bounced"}, headers=admin_headers)
    stored = case(client, headers, case_pk)
    assert (stored["status"], stored["assigned_to"], stored["resolved_at"], stored["balance"]) == (
        "In Progress", user.id, None, "300.00")
    assert history(client, headers, case_pk, "status")[-1]["comment"] == "payment reversed: balance due again"


def test_a_reversal_does_not_reopen_a_case_resolved_by_status(client, make_case, admin_headers, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="300.00")
    payment = pay(client, headers, case_pk, "100.00").json
    resolved = client.patch(f"/api/cases/{case_pk}/update-status", json={"status": "Resolved"}, headers=headers)
    assert resolved.json["amount_recovered"] == "300.00"  # 100.00 paid and a settlement of 200.00
    client.post(f"/api/payments/{payment['id']}/reverse", json={"reason": "bounced"}, headers=admin_headers)
    stored = case(client, headers, case_pk)
    assert (stored["status"], stored["amount_recovered"], stored["resolved_at"]) == (
        "Resolved", "200.00", resolved.json["resolved_at"])


def test_a_cases_payments_come_in_pages_oldest_first(client, make_case, admin_headers):
    case_pk = make_case(due_amount="1000.00")
    references = [f"R-{n}" for n in range(5)]
    for reference in references:
        pay(client, admin_headers, case_pk, "1.00", reference)
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"/api/cases/{case_pk}/payments", headers=admin_headers, query_string=query).json
        seen += [p["reference"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == references
    bad = client.get(f"/api/cases/{case_pk}/payments", headers=admin_headers, query_string={"cursor": "abc"})
    assert (bad.status_code, bad.content_type) == (400, PROBLEM)


def _all_at_once(app, calls) -> list[int]:
    """Each (headers, case_pk, amount, reference) posted by its own thread and test client, released together."""
    barrier = Barrier(len(calls))

    def send(call):
        headers, case_pk, amount, reference = call
        client = app.test_client()
        barrier.wait()
        return pay(client, headers, case_pk, amount, reference).status_code

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def test_two_payments_that_together_exceed_the_balance_never_both_pass(app, client, make_case, admin_headers, engine):
    for attempt in range(20):
        case_pk = make_case(due_amount="100.00")
        statuses = _all_at_once(app, [(admin_headers, case_pk, "60.00", f"A-{attempt}"),
                                      (admin_headers, case_pk, "50.00", f"B-{attempt}")])
        assert sorted(statuses) == [201, 400], (attempt, statuses)
        stored = case(client, admin_headers, case_pk)
        assert stored["balance"] in ("40.00", "50.00") and len(payments_of(client, admin_headers, case_pk)) == 1
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cases_processed "
                                    "WHERE due_amount - coalesce(amount_recovered, 0) < 0").scalar_one() == 0


def test_one_reference_sent_for_two_cases_at_once_is_one_201_and_one_409(app, make_case, admin_headers):
    for attempt in range(10):
        first, second = make_case(), make_case()
        statuses = _all_at_once(app, [(admin_headers, first, "10.00", f"SAME-{attempt}"),
                                      (admin_headers, second, "10.00", f"SAME-{attempt}")])
        assert sorted(statuses) == [201, 409], (attempt, statuses)


def test_the_openapi_document_describes_the_payment_routes(client):
    paths = client.get("/openapi.json").json["paths"]
    record = paths["/api/cases/{case_id}/payments"]["post"]
    assert {"200", "201", "400", "403", "404", "409"} <= set(record["responses"])
    assert {"200", "404", "409"} <= set(paths["/api/payments/{payment_id}/reverse"]["post"]["responses"])
    assert {"limit", "cursor"} <= {p["name"] for p in paths["/api/cases/{case_id}/payments"]["get"]["parameters"]}

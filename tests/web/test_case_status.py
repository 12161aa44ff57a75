"""PATCH /api/cases/<id>/update-status: the workflow through HTTP, every error code, history."""
from __future__ import annotations

from datetime import datetime

import pytest

from conftest import login
from domain.events import CasesChanged

WALKS = [  # every allowed transition appears in one of these walks
    ["In Progress", "Escalated", "In Progress", "Resolved"],
    ["Escalated", "Resolved"],
    ["In Progress", "Resolved"],
]


@pytest.fixture(autouse=True)
def refreshes(app, monkeypatch):
    """Records the events the web's bus publishes (their handlers are tested with the analytics API)."""
    published = []
    with app.app_context():
        bus = app.extensions["dcoe"].bus
    monkeypatch.setattr(bus, "publish", lambda events: published.extend(events))
    return published


@pytest.fixture(autouse=True)
def no_payments(engine, clean_db):
    """The ledger starts empty too (the suite's cleanup truncates the cases, not the payments)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")


@pytest.fixture
def agent(client, make_user):
    user = make_user("call_center_agent")
    return user, login(client, user.email)


def patch(client, headers, case_pk, body, if_match=None):
    extra = {"If-Match": if_match} if if_match is not None else {}
    return client.patch(f"/api/cases/{case_pk}/update-status", json=body, headers={**headers, **extra})


def status_moves(client, headers, case_pk) -> list[dict]:
    """The case's history but for its assignment (make_case's)."""
    return [e for e in client.get(f"/api/cases/{case_pk}/history", headers=headers).json if e["kind"] == "status"]


def case(client, headers, case_pk) -> dict:
    return client.get(f"/api/cases/{case_pk}", headers=headers).json


@pytest.mark.parametrize("walk", WALKS)
def test_an_agent_walks_its_case_through_the_workflow_with_a_history_entry_per_step(client, make_case, agent, walk):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id)
    previous, version = "Pending", 1
    for step, status in enumerate(walk):
        response = patch(client, headers, case_pk, {"status": status, "comment": f"step {step}"}, f'"{version}"')
        assert response.status_code == 200, response.json
        version += 1
        assert (response.json["status"], response.json["version"]) == (status, version)
        assert response.headers["ETag"] == f'"{version}"'
        previous = status
    entries = status_moves(client, headers, case_pk)
    assert [(e["kind"], e["from"], e["to"], e["by"], e["comment"]) for e in entries] == [
        ("status", before, after, user.id, f"step {n}")
        for n, (before, after) in enumerate(zip(["Pending"] + walk, walk))
    ]
    assert case(client, headers, case_pk)["status"] == previous


def test_a_status_change_bumps_updated_at(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id)
    before = datetime.fromisoformat(case(client, headers, case_pk)["updated_at"])
    after = datetime.fromisoformat(patch(client, headers, case_pk, {"status": "Escalated"}).json["updated_at"])
    assert after > before


def test_resolving_records_the_due_amount_and_the_time_by_default(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="2500.40")
    body = patch(client, headers, case_pk, {"status": "Resolved"}).json
    assert body["amount_recovered"] == "2500.40"
    assert datetime.fromisoformat(body["resolved_at"]) == datetime.fromisoformat(body["updated_at"])


# 0 records no payment: amount_recovered is the sum of the payments, null while there is none
@pytest.mark.parametrize(("given", "stored"), [(1200, "1200.00"), ("1200.5", "1200.50"), (0, None),
                                               (2500.4, "2500.40"), ("2500.40", "2500.40")])
def test_resolving_takes_the_amount_recovered_as_number_or_string(client, make_case, agent, given, stored):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="Escalated", due_amount="2500.40")
    response = patch(client, headers, case_pk, {"status": "Resolved", "amount_recovered": given})
    assert response.status_code == 200, response.json
    assert response.json["amount_recovered"] == stored


@pytest.mark.parametrize("amount", [-1, "2500.41", 1e20, "12.345", "abc", True, "NaN", "Infinity", [], "1e400"])
def test_an_amount_recovered_out_of_range_or_malformed_is_400_and_changes_nothing(client, make_case, agent, amount):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="2500.40")
    response = patch(client, headers, case_pk, {"status": "Resolved", "amount_recovered": amount})
    assert response.status_code == 400, response.json
    assert response.content_type == "application/problem+json"
    assert "amount_recovered" in response.json["errors"]
    assert case(client, headers, case_pk)["status"] == "In Progress"
    assert status_moves(client, headers, case_pk) == []


def test_an_amount_recovered_without_resolving_is_400(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id)
    response = patch(client, headers, case_pk, {"status": "In Progress", "amount_recovered": "1.00"})
    assert response.status_code == 400
    assert response.json["errors"] == {"amount_recovered": ["only accepted with status Resolved"]}


def test_an_admin_reopens_a_resolved_case_which_keeps_the_payments_recovered(client, make_case, admin_headers,
                                                                              agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress")
    patch(client, headers, case_pk, {"status": "Resolved", "amount_recovered": "10.00"})
    refused = patch(client, headers, case_pk, {"status": "In Progress"})
    assert refused.status_code == 403
    reopened = patch(client, admin_headers, case_pk, {"status": "In Progress", "comment": "borrower disputes"})
    assert reopened.status_code == 200
    # the settlement payment of 10.00 stands (API.md: amount_recovered is the sum of the payments)
    assert (reopened.json["amount_recovered"], reopened.json["balance"], reopened.json["resolved_at"]) == (
        "10.00", "990.00", None)
    assert status_moves(client, headers, case_pk)[-1]["comment"] == "borrower disputes"


def test_resolving_records_the_recovery_beyond_the_payments_as_one_settlement_payment(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="1000.00")
    paid = client.post(f"/api/cases/{case_pk}/payments", headers=headers,
                       json={"amount": "300.00", "paid_on": "2026-01-05", "reference": "TR-1", "method": "transfer"})
    assert paid.status_code == 201, paid.json
    resolved = patch(client, headers, case_pk, {"status": "Resolved", "amount_recovered": "800.00"}, '"2"')
    assert resolved.status_code == 200, resolved.json
    assert (resolved.json["amount_recovered"], resolved.json["balance"], resolved.json["version"]) == (
        "800.00", "200.00", 3)
    payments = client.get(f"/api/cases/{case_pk}/payments", headers=headers).json["items"]
    assert [(p["amount"], p["method"], p["reference"]) for p in payments] == [
        ("300.00", "transfer", "TR-1"), ("500.00", "settlement", f"settlement-{case_pk}-2")]


def test_resolving_for_less_than_the_payments_so_far_is_400_and_changes_nothing(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, status="In Progress", due_amount="1000.00")
    client.post(f"/api/cases/{case_pk}/payments", headers=headers,
                json={"amount": "300.00", "paid_on": "2026-01-05", "reference": "TR-1"})
    response = patch(client, headers, case_pk, {"status": "Resolved", "amount_recovered": "299.99"})
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert response.json["errors"] == {"amount_recovered": ["must be at least 300.00, the payments recorded"]}
    assert (case(client, headers, case_pk)["status"], case(client, headers, case_pk)["version"]) == ("In Progress", 2)


@pytest.mark.parametrize(("current", "target", "allowed"), [
    ("Pending", "Resolved", "In Progress, Escalated"),
    ("Pending", "Pending", "In Progress, Escalated"),
    ("In Progress", "Pending", "Resolved, Escalated"),
    ("Escalated", "Pending", "In Progress, Resolved"),
    ("Resolved", "Escalated", "In Progress"),
    ("Resolved", "Pending", "In Progress"),
])
def test_a_transition_the_workflow_refuses_is_409_listing_the_allowed_ones(client, make_case, admin_headers,
                                                                           current, target, allowed):
    case_pk = make_case(status=current)
    response = patch(client, admin_headers, case_pk, {"status": target})
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == {"status": [f"allowed from {current}: {allowed}"]}
    assert case(client, admin_headers, case_pk)["version"] == 1
    assert status_moves(client, admin_headers, case_pk) == []


@pytest.mark.parametrize("body", [{"status": "Closed"}, {"status": "pending"}, {}, {"status": None},
                                  {"status": "Escalated", "assigned_to": 1}, {"status": "Escalated", "version": 9},
                                  {"status": "Escalated", "comment": "x" * 2001}])
def test_an_unknown_status_or_field_is_400(client, make_case, admin_headers, body):
    case_pk = make_case()
    response = patch(client, admin_headers, case_pk, body)
    assert response.status_code == 400, response.json
    assert response.content_type == "application/problem+json"
    assert case(client, admin_headers, case_pk)["version"] == 1


def test_a_body_that_is_not_json_is_400(client, make_case, admin_headers):
    response = client.patch(f"/api/cases/{make_case()}/update-status", data="{status",
                            headers={**admin_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


def test_an_agent_never_changes_a_case_not_assigned_to_it(client, make_case, make_user, agent):
    user, headers = agent
    other = make_user("call_center_agent")
    theirs, nobodys = make_case(assigned_to=other.id), make_case()
    for case_pk in (theirs, nobodys):
        response = patch(client, headers, case_pk, {"status": "In Progress"})
        assert response.status_code == 403
        assert response.content_type == "application/problem+json"
    other_headers = login(client, other.email)
    assert case(client, other_headers, theirs)["version"] == 1
    assert status_moves(client, other_headers, theirs) == []


def test_an_admin_may_update_any_case(client, make_case, make_user, admin_headers):
    case_pk = make_case(assigned_to=make_user("field_agent").id, days_past_due=50)
    assert patch(client, admin_headers, case_pk, {"status": "Escalated"}).status_code == 200


def test_updating_a_missing_case_is_404(client, admin_headers, agent):
    assert patch(client, admin_headers, 987654, {"status": "Escalated"}).status_code == 404
    assert patch(client, agent[1], 987654, {"status": "Escalated"}).status_code == 404


def test_updating_needs_a_token(client, make_case):
    assert client.patch(f"/api/cases/{make_case()}/update-status", json={"status": "Escalated"}).status_code == 401


@pytest.mark.parametrize("if_match", ['"1"', '*', '"7", "1"', ' "1" '])
def test_an_if_match_naming_the_current_version_lets_the_change_through(client, make_case, admin_headers, if_match):
    assert patch(client, admin_headers, make_case(), {"status": "Escalated"}, if_match).status_code == 200


@pytest.mark.parametrize("if_match", ['"2"', '"0"', 'W/"1"', '"abc"'])
def test_a_stale_if_match_is_412_and_changes_nothing(client, make_case, admin_headers, if_match):
    case_pk = make_case()
    response = patch(client, admin_headers, case_pk, {"status": "Escalated"}, if_match)
    assert response.status_code == 412
    assert response.content_type == "application/problem+json"
    assert case(client, admin_headers, case_pk)["version"] == 1
    assert status_moves(client, admin_headers, case_pk) == []


def test_the_etag_of_a_change_is_stale_for_the_next_writer_after_another_change(client, make_case, admin_headers):
    case_pk = make_case()
    etag = client.get(f"/api/cases/{case_pk}", headers=admin_headers).headers["ETag"]
    assert patch(client, admin_headers, case_pk, {"status": "In Progress"}, etag).status_code == 200
    assert patch(client, admin_headers, case_pk, {"status": "Escalated"}, etag).status_code == 412


@pytest.mark.parametrize("if_match", ["1", '"1', "W/1"])
def test_a_malformed_if_match_is_400(client, make_case, admin_headers, if_match):
    assert patch(client, admin_headers, make_case(), {"status": "Escalated"}, if_match).status_code == 400


def test_a_successful_change_publishes_that_cases_changed_and_a_refused_one_does_not(client, make_case,
                                                                                      admin_headers, refreshes):
    case_pk = make_case()
    assert patch(client, admin_headers, case_pk, {"status": "Resolved"}).status_code == 409
    assert refreshes == []
    assert patch(client, admin_headers, case_pk, {"status": "Escalated"}).status_code == 200
    assert refreshes == [CasesChanged("status")]

"""Holds through HTTP: placed on a case or its borrower, one active per type and scope, lifted by
whom the contract allows, a pause ended by the promises job; their effects on eligibility,
promises, assignment, the case's `on_hold`, the list filter, the history and the summary."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conftest import login, today, wait_for_job

PROBLEM = "application/problem+json"


HOLD_KEYS = {"id", "case_id", "borrower_ref", "scope", "type", "reason", "until", "created_by", "created_at",
             "lifted_at", "lifted_by", "lift_reason"}


@pytest.fixture
def agent(client, make_user):
    user = make_user("call_center_agent")
    return user, login(client, user.email)


def hold(client, headers, case_pk, kind="dispute", reason="borrower disputes the amount", **extra):
    body = {"type": kind, "reason": reason, **extra}
    return client.post(f"/api/cases/{case_pk}/holds", json=body, headers=headers)


def lift(client, headers, hold_id, reason="resolved"):
    return client.post(f"/api/holds/{hold_id}/lift", json={"reason": reason}, headers=headers)


def holds_of(client, headers, case_pk, **query) -> list[dict]:
    response = client.get(f"/api/cases/{case_pk}/holds", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json["items"]


def case(client, headers, case_pk) -> dict:
    return client.get(f"/api/cases/{case_pk}", headers=headers).json


def test_an_agent_puts_its_case_on_a_dispute_hold_as_the_contracts_resource(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, case_id="BANK-3", borrower_ref="P-3", status="In Progress")
    response = hold(client, headers, case_pk)
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == HOLD_KEYS
    assert (body["case_id"], body["borrower_ref"], body["scope"], body["type"], body["created_by"]) == (
        "BANK-3", "P-3", "case", "dispute", user.id)
    assert body["lifted_at"] is None and body["until"] is None
    stored = case(client, headers, case_pk)
    assert (stored["on_hold"], stored["status"], stored["assigned_to"]) == (True, "In Progress", user.id)
    again = hold(client, headers, case_pk)
    assert (again.status_code, again.content_type) == (409, PROBLEM)


def test_a_cease_covers_every_case_of_the_borrower_and_only_an_admin_lifts_it(client, make_case, agent,
                                                                              admin_headers):
    user, headers = agent
    one = make_case(assigned_to=user.id, bank_code="B1", borrower_ref="P-1")
    two = make_case(assigned_to=user.id, bank_code="B1", borrower_ref="P-1")
    other_bank = make_case(assigned_to=user.id, bank_code="B2", borrower_ref="P-1")
    alone = make_case(assigned_to=user.id, bank_code="B1")
    placed = hold(client, headers, one, "cease", reason="asked in writing").json
    assert placed["scope"] == "borrower"
    assert [case(client, headers, c)["on_hold"] for c in (one, two, other_bank, alone)] == [True, True, False, False]
    assert [h["id"] for h in holds_of(client, headers, two)] == [placed["id"]]
    assert hold(client, headers, two, "cease").status_code == 409  # one active per type and scope
    assert hold(client, headers, two, "cease", scope="case").status_code == 201  # another scope
    refused = lift(client, headers, placed["id"])
    assert (refused.status_code, refused.content_type) == (403, PROBLEM)
    lifted = lift(client, admin_headers, placed["id"], "withdrawn")
    assert lifted.status_code == 200 and lifted.json["lift_reason"] == "withdrawn"
    assert lift(client, admin_headers, placed["id"]).status_code == 409
    assert case(client, headers, one)["on_hold"] is False
    assert holds_of(client, headers, one, active="true") == []
    assert [h["id"] for h in holds_of(client, headers, one, active="false")] == [placed["id"]]


def test_an_agent_lifts_a_dispute_or_pause_on_its_own_case_only(client, make_case, agent, make_user):
    user, headers = agent
    mine = make_case(assigned_to=user.id)
    dispute = hold(client, headers, mine).json
    pause = hold(client, headers, mine, "pause", until=(today() + timedelta(days=3)).isoformat()).json
    other = login(client, make_user("call_center_agent").email)
    assert lift(client, other, dispute["id"]).status_code == 403
    assert lift(client, headers, dispute["id"]).status_code == 200
    assert lift(client, headers, pause["id"]).status_code == 200
    assert lift(client, headers, 999999).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "pause", "reason": "holiday"}, "until"),
    ({"type": "pause", "reason": "holiday", "until": today().isoformat()}, "until"),
    ({"type": "dispute", "reason": "x", "until": (today() + timedelta(days=3)).isoformat()}, "until"),
    ({"type": "vacation", "reason": "x"}, "type"),
    ({"type": "dispute"}, "reason"),
    ({"type": "dispute", "reason": ""}, "reason"),
    ({"type": "dispute", "reason": "x", "scope": "planet"}, "scope"),
])
def test_a_hold_that_makes_no_sense_is_400(client, make_case, admin_headers, body, field):
    response = client.post(f"/api/cases/{make_case()}/holds", json=body, headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM), response.json
    assert field in response.json["errors"]


def test_agents_place_and_read_holds_only_on_their_own_cases(client, make_case, agent):
    _, headers = agent
    theirs = make_case()
    assert hold(client, headers, theirs).status_code == 403
    assert client.get(f"/api/cases/{theirs}/holds", headers=headers).status_code == 404
    assert client.get(f"/api/cases/{theirs}/holds").status_code == 401


def test_a_hold_forbids_contact_and_dispute_cease_and_bankruptcy_forbid_promises(client, make_case,
                                                                                 admin_headers):
    paused, disputed = make_case(), make_case()
    until = today() + timedelta(days=3)
    hold(client, admin_headers, paused, "pause", until=until.isoformat())
    hold(client, admin_headers, disputed)
    at = {"channel": "letter", "at": datetime.now(UTC).isoformat()}
    paused_now = client.get(f"/api/cases/{paused}/contact-eligibility", headers=admin_headers, query_string=at).json
    assert paused_now["reasons"] == ["hold_pause"] and paused_now["next_allowed_at"] is not None
    disputed_now = client.get(f"/api/cases/{disputed}/contact-eligibility", headers=admin_headers,
                              query_string=at).json
    assert (disputed_now["reasons"], disputed_now["next_allowed_at"]) == (["hold_dispute"], None)
    promise = {"amount": "100.00", "due_date": (today() + timedelta(days=5)).isoformat()}
    refused = client.post(f"/api/cases/{disputed}/promises", json=promise, headers=admin_headers)
    assert (refused.status_code, refused.content_type) == (409, PROBLEM)
    assert client.post(f"/api/cases/{paused}/promises", json=promise, headers=admin_headers).status_code == 201


def test_the_list_filters_cases_on_hold_and_the_agents_view_stays_its_own(client, make_case, agent, admin_headers):
    user, headers = agent
    held, free, others_held = make_case(assigned_to=user.id), make_case(assigned_to=user.id), make_case()
    hold(client, headers, held)
    hold(client, admin_headers, others_held, "attorney")

    def listed(h, **query):
        return [c["id"] for c in client.get("/api/cases", headers=h, query_string=query).json["items"]]

    assert listed(admin_headers, on_hold="true") == [held, others_held]
    assert listed(admin_headers, on_hold="false") == [free]
    assert listed(headers, on_hold="true") == [held]
    assert client.get("/api/cases", headers=admin_headers, query_string={"on_hold": "maybe"}).status_code == 400


def test_assignment_skips_unassigned_cases_on_hold_until_the_hold_is_lifted(client, make_case, make_user,
                                                                            admin_headers, worker):
    make_user("call_center_agent")
    held, free = make_case(borrower_ref="P-9"), make_case()
    placed = hold(client, admin_headers, held, "bankruptcy").json

    def assign() -> dict:
        response = client.post("/api/cases/assign", json={}, headers=admin_headers)
        return wait_for_job(client, admin_headers, response.json["id"])["result"]

    assert assign()["assigned"] == 1
    assert case(client, admin_headers, held)["assigned_to"] is None
    assert case(client, admin_headers, free)["assigned_to"] is not None
    lift(client, admin_headers, placed["id"], "discharged")
    assert assign()["assigned"] == 1
    assert case(client, admin_headers, held)["assigned_to"] is not None


def test_the_promises_job_lifts_a_pause_once_its_last_day_has_passed(client, make_case, admin_headers, worker):
    case_pk = make_case()
    until = today() + timedelta(days=2)
    placed = hold(client, admin_headers, case_pk, "pause", until=until.isoformat()).json

    def evaluate(as_of):
        response = client.post("/api/promises/evaluate", json={"as_of": as_of.isoformat()}, headers=admin_headers)
        assert wait_for_job(client, admin_headers, response.json["id"])["state"] == "succeeded"

    evaluate(until)
    assert holds_of(client, admin_headers, case_pk, active="true")[0]["id"] == placed["id"]
    evaluate(until + timedelta(days=1))
    ended = holds_of(client, admin_headers, case_pk)[0]
    assert (ended["lifted_at"] is not None, ended["lift_reason"], ended["lifted_by"]) == (True, "pause ended", None)
    assert case(client, admin_headers, case_pk)["on_hold"] is False


def test_holds_and_contacts_are_in_the_history_and_the_summary(client, make_case, admin_headers, worker):
    case_pk = make_case(timezone="America/New_York")
    placed = hold(client, admin_headers, case_pk, "attorney", reason="represented").json
    lift(client, admin_headers, placed["id"], "no longer represented")
    reported = {"channel": "call", "direction": "outbound", "outcome": "conversation",
                "at": (datetime.now(UTC) - timedelta(days=1)).replace(hour=6).isoformat()}  # 01:00–02:00 in NY
    assert client.post(f"/api/cases/{case_pk}/contacts", json=reported, headers=admin_headers).status_code == 201
    history = client.get(f"/api/cases/{case_pk}/history", headers=admin_headers).json
    kinds = [(e["kind"], e["from"], e["to"]) for e in history if e["kind"] in ("hold", "contact")]
    assert kinds == [("hold", None, "attorney"), ("hold", "attorney", None),
                     ("contact", None, "call outbound: conversation")]
    response = client.post("/api/analytics/refresh", headers=admin_headers)
    collecting = wait_for_job(client, admin_headers, response.json["id"])["result"]["collecting"]
    assert collecting["contacts"] == {"attempts": 1, "right_party": 1, "right_party_rate": 1.0}
    assert collecting["holds"] == {"dispute": 0, "cease": 0, "bankruptcy": 0, "attorney": 1, "pause": 0}
    assert collecting["policy_violations"] == 1

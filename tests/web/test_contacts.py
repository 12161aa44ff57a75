"""Contacts through HTTP: made now (checked by the policy, 409 with reasons and next_allowed_at,
an admin's override) or reported (always recorded, violations flagged); the eligibility route; the
contact policy resource; agents on their own cases only; two agents racing for the last call."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from threading import Barrier
from zoneinfo import ZoneInfo

import pytest

from conftest import login

PROBLEM = "application/problem+json"
CONTACT_KEYS = {"id", "case_id", "channel", "direction", "outcome", "at", "right_party", "policy_violations", "by",
                "note", "override_reason", "reported"}


def zone_at(local_hour: int) -> str:
    """A fixed-offset zone where the clock now reads about `local_hour` (Etc/GMT+N is UTC−N)."""
    offset = (local_hour - datetime.now(UTC).hour + 12) % 24 - 12  # −12 … +11
    return f"Etc/GMT{'+' if offset <= 0 else '-'}{abs(offset)}"


def daytime() -> str:
    """Mid-afternoon there now: inside 08:00–21:00 for hours. Computed per test, not at import: the
    suite runs for minutes and the hour turns."""
    return zone_at(14)


def night() -> str:
    return zone_at(2)


@pytest.fixture
def agent(client, make_user):
    user = make_user("call_center_agent")
    return user, login(client, user.email)


def contact(client, headers, case_pk, outcome="no_answer", channel="call", direction="outbound", **extra):
    body = {"channel": channel, "direction": direction, "outcome": outcome, **extra}
    if isinstance(body.get("at"), datetime):
        body["at"] = body["at"].isoformat()
    return client.post(f"/api/cases/{case_pk}/contacts", json=body, headers=headers)


def eligibility(client, headers, case_pk, **query):
    response = client.get(f"/api/cases/{case_pk}/contact-eligibility", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def report_calls(client, headers, case_pk, count, *, start: datetime, outcome="no_answer"):
    for n in range(count):
        response = contact(client, headers, case_pk, outcome, at=start + timedelta(minutes=n))
        assert response.status_code == 201, response.json


def test_an_agent_records_a_call_made_now_on_its_case_as_the_contracts_resource(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, timezone=daytime(), case_id="BANK-1")
    response = contact(client, headers, case_pk, "voicemail", note="left a message")
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == CONTACT_KEYS
    assert (body["case_id"], body["channel"], body["outcome"], body["right_party"], body["by"]) == (
        "BANK-1", "call", "voicemail", False, user.id)
    assert (body["policy_violations"], body["reported"], body["note"]) == ([], False, "left a message")
    assert abs(datetime.fromisoformat(body["at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    listed = client.get(f"/api/cases/{case_pk}/contacts", headers=headers).json
    assert [c["id"] for c in listed["items"]] == [body["id"]] and listed["next_cursor"] is None


def test_a_call_made_now_outside_the_borrowers_hours_is_refused_and_nothing_is_recorded(client, make_case, agent):
    user, headers = agent
    zone = night()
    case_pk = make_case(assigned_to=user.id, timezone=zone)
    response = contact(client, headers, case_pk)
    assert (response.status_code, response.content_type) == (409, PROBLEM)
    assert response.json["reasons"] == ["outside_hours"]
    allowed_at = datetime.fromisoformat(response.json["next_allowed_at"])
    assert allowed_at.astimezone(ZoneInfo(zone)).time() == time(8)  # the window opens there
    assert timedelta(hours=4) < allowed_at - datetime.now(UTC) <= timedelta(hours=6)  # the coming 08:00
    assert client.get(f"/api/cases/{case_pk}/contacts", headers=headers).json["items"] == []
    assert contact(client, headers, case_pk, channel="letter").status_code == 201  # letters keep no hours


def test_the_eighth_call_in_seven_days_is_refused_with_call_frequency_and_the_day_it_frees(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, timezone=daytime())
    first = datetime.now(UTC) - timedelta(days=3)
    report_calls(client, headers, case_pk, 6, start=first)
    report_calls(client, headers, case_pk, 3, start=first, outcome="not_connected")  # these do not count
    assert contact(client, headers, case_pk).status_code == 201  # the seventh
    refused = contact(client, headers, case_pk)
    assert refused.status_code == 409 and refused.json["reasons"] == ["call_frequency"]
    freed = datetime.fromisoformat(refused.json["next_allowed_at"])
    assert timedelta(days=3) < freed - first <= timedelta(days=7, hours=12)
    assert contact(client, headers, case_pk, channel="sms").status_code == 201  # only calls are counted
    later = eligibility(client, headers, case_pk, channel="call", at=freed.isoformat())
    assert later["allowed"] or later["reasons"] == ["outside_hours"]


def test_a_conversation_blocks_calls_about_that_case_for_seven_days_but_not_another_case_of_the_borrower(
        client, make_case, agent):
    user, headers = agent
    one = make_case(assigned_to=user.id, timezone=daytime(), borrower_ref="P-1")
    two = make_case(assigned_to=user.id, timezone=daytime(), borrower_ref="P-1")
    inbound = contact(client, headers, one, "conversation", direction="inbound")
    assert inbound.status_code == 201 and inbound.json["right_party"] is True
    refused = contact(client, headers, one)
    assert refused.status_code == 409 and refused.json["reasons"] == ["after_conversation"]
    assert contact(client, headers, two).status_code == 201


def test_an_admin_overrides_the_policy_with_a_reason_recorded_and_an_agent_may_not(client, make_case, agent,
                                                                                    admin_headers):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, timezone=night())
    assert contact(client, headers, case_pk, override_reason="urgent").status_code == 403
    response = contact(client, admin_headers, case_pk, override_reason="borrower asked to be called now")
    assert response.status_code == 201, response.json
    assert (response.json["policy_violations"], response.json["override_reason"]) == (
        ["outside_hours"], "borrower asked to be called now")
    history = client.get(f"/api/cases/{case_pk}/history", headers=admin_headers).json
    entry = [e for e in history if e["kind"] == "contact"][-1]
    assert entry["to"] == "call outbound: no_answer" and "override: borrower asked" in entry["comment"]


def test_a_reported_contact_is_always_recorded_with_the_rules_it_broke(client, make_case, agent):
    user, headers = agent
    case_pk = make_case(assigned_to=user.id, timezone="America/New_York")
    at = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # 01:30 in New York
    response = contact(client, headers, case_pk, at=at)
    assert response.status_code == 201, response.json
    assert (response.json["policy_violations"], response.json["reported"]) == (["outside_hours"], True)
    again = contact(client, headers, case_pk, at=at)
    assert (again.status_code, again.json["id"]) == (200, response.json["id"])  # the same report: no second row
    inbound = contact(client, headers, case_pk, "conversation", direction="inbound", at=at + timedelta(hours=1))
    assert inbound.json["policy_violations"] == []  # the borrower's own call breaks no rule


@pytest.mark.parametrize(("at", "field"), [("2999-01-01T10:00:00Z", "at"), ("2026-11-02T10:00:00", "at"),
                                           ("yesterday", "at")])
def test_a_reported_contact_in_the_future_or_without_offset_is_400(client, make_case, admin_headers, at, field):
    response = contact(client, admin_headers, make_case(), at=at)
    assert (response.status_code, response.content_type) == (400, PROBLEM)
    assert field in response.json["errors"]


@pytest.mark.parametrize("body", [{}, {"channel": "fax", "direction": "outbound", "outcome": "no_answer"},
                                  {"channel": "call", "direction": "sideways", "outcome": "no_answer"},
                                  {"channel": "call", "direction": "outbound", "outcome": "hung_up"},
                                  {"channel": "call", "direction": "outbound", "outcome": "no_answer", "extra": 1},
                                  {"channel": "call", "direction": "outbound", "outcome": "no_answer",
                                   "note": "x" * 2001}])
def test_a_malformed_contact_is_400(client, make_case, admin_headers, body):
    response = client.post(f"/api/cases/{make_case()}/contacts", json=body, headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM)


def test_agents_record_and_read_contacts_only_on_their_own_cases(client, make_case, agent, admin_headers):
    user, headers = agent
    theirs = make_case(assigned_to=None, timezone=daytime())
    assert contact(client, headers, theirs).status_code == 403
    assert client.get(f"/api/cases/{theirs}/contacts", headers=headers).status_code == 404
    assert client.get(f"/api/cases/{theirs}/contact-eligibility", headers=headers).status_code == 404
    assert contact(client, admin_headers, 999999).status_code == 404
    assert client.get(f"/api/cases/{theirs}/contacts").status_code == 401


def test_a_dispute_raised_puts_the_case_on_hold_and_cease_requested_the_borrower(client, make_case, agent):
    user, headers = agent
    one = make_case(assigned_to=user.id, timezone=daytime(), borrower_ref="P-7")
    two = make_case(assigned_to=user.id, timezone=daytime(), borrower_ref="P-7")
    assert contact(client, headers, one, "dispute_raised", channel="sms").status_code == 201
    holds = client.get(f"/api/cases/{one}/holds", headers=headers).json["items"]
    assert [(h["type"], h["scope"]) for h in holds] == [("dispute", "case")]
    assert client.get(f"/api/cases/{one}", headers=headers).json["on_hold"] is True
    assert client.get(f"/api/cases/{two}", headers=headers).json["on_hold"] is False
    assert contact(client, headers, two, "cease_requested", channel="email").status_code == 201
    refused = contact(client, headers, one, channel="sms")
    assert refused.status_code == 409 and refused.json["reasons"] == ["hold_dispute", "hold_cease"]
    assert refused.json["next_allowed_at"] is None


def test_eligibility_lists_every_reason_at_an_instant_and_defaults_to_a_call_now(client, make_case, admin_headers):
    case_pk = make_case(timezone="America/New_York")
    assert eligibility(client, admin_headers, case_pk, at="2026-06-01T16:00:00Z") == {
        "allowed": True, "reasons": [], "next_allowed_at": "2026-06-01T16:00:00+00:00"}
    night = eligibility(client, admin_headers, case_pk, channel="sms", at="2026-06-02T02:00:00Z")  # 22:00 EDT
    assert night == {"allowed": False, "reasons": ["outside_hours"], "next_allowed_at": "2026-06-02T12:00:00+00:00"}
    assert set(eligibility(client, admin_headers, case_pk)) == {"allowed", "reasons", "next_allowed_at"}
    bad = client.get(f"/api/cases/{case_pk}/contact-eligibility", headers=admin_headers,
                     query_string={"channel": "pigeon"})
    assert (bad.status_code, bad.content_type) == (400, PROBLEM)


def test_the_contact_policy_defaults_to_regulation_f_and_a_bank_override_applies_to_its_cases(
        client, make_case, admin_headers, agent):
    _, headers = agent
    default = client.get("/api/contact-policy", headers=headers).json
    assert default == {"timezone_default": "America/New_York", "window_start": "08:00", "window_end": "21:00",
                       "calls_per_7_days": 7, "days_after_conversation": 7, "by_bank": {}}
    put = client.put("/api/contact-policy", headers=admin_headers,
                     json={**default, "by_bank": {"BANKX": {"window_end": "19:00"}}})
    assert put.status_code == 200, put.json
    assert put.json["by_bank"] == {"BANKX": {"window_end": "19:00"}}
    at = {"at": "2026-06-01T23:30:00Z"}  # 19:30 in New York
    strict, usual = make_case(bank_code="BANKX"), make_case(bank_code="OTHER")
    assert eligibility(client, admin_headers, strict, **at)["reasons"] == ["outside_hours"]
    assert eligibility(client, admin_headers, usual, **at)["allowed"] is True
    assert client.put("/api/contact-policy", headers=headers, json=default).status_code == 403


@pytest.mark.parametrize(("body", "field"), [
    ({"window_start": "21:00", "window_end": "08:00"}, "window_end"),
    ({"timezone_default": "Mars/Olympus"}, "timezone_default"),
    ({"calls_per_7_days": -1}, "calls_per_7_days"),
    ({"calls_per_7_days": "7"}, "calls_per_7_days"),
    ({"window_start": "8am"}, "window_start"),
    ({"by_bank": {"B": {"window_start": "22:00"}}}, "by_bank.B.window_start"),
    ({"by_bank": {"B": {"bedtime": "22:00"}}}, "by_bank.B.bedtime"),
    ({"sundays": False}, "sundays"),
])
def test_a_contact_policy_that_makes_no_sense_is_400_naming_the_setting(client, admin_headers, body, field):
    response = client.put("/api/contact-policy", headers=admin_headers, json=body)
    assert (response.status_code, response.content_type) == (400, PROBLEM), response.json
    assert any(key.endswith(field) for key in response.json["errors"]), response.json


def test_contacts_are_listed_oldest_first_by_at_in_pages(client, make_case, admin_headers):
    case_pk = make_case()
    start = datetime(2026, 10, 1, 15, tzinfo=UTC)
    for n in (3, 1, 2, 0, 4):  # reported out of order
        assert contact(client, admin_headers, case_pk, at=start + timedelta(hours=n)).status_code == 201
    seen, cursor = [], None
    while True:
        body = client.get(f"/api/cases/{case_pk}/contacts", headers=admin_headers,
                          query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).json
        seen += [c["at"] for c in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [(start + timedelta(hours=n)).isoformat() for n in range(5)]
    bad = client.get(f"/api/cases/{case_pk}/contacts", headers=admin_headers, query_string={"cursor": "abc"})
    assert (bad.status_code, bad.content_type) == (400, PROBLEM)


def _all_at_once(app, calls) -> list[int]:
    """Each (headers, case_pk) calls now from its own thread and test client, released together."""
    barrier = Barrier(len(calls))

    def send(call):
        headers, case_pk = call
        client = app.test_client()
        barrier.wait()
        return contact(client, headers, case_pk).status_code

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def test_two_callers_at_once_never_both_spend_the_last_call_of_the_allowance(app, client, make_case, make_user,
                                                                           admin_headers):
    agent = make_user("call_center_agent")
    headers = login(client, agent.email)
    for attempt in range(10):
        case_pk = make_case(assigned_to=agent.id, timezone=daytime())
        report_calls(client, admin_headers, case_pk, 6, start=datetime.now(UTC) - timedelta(days=2))
        statuses = _all_at_once(app, [(headers, case_pk), (admin_headers, case_pk)])  # the agent and a supervisor
        assert sorted(statuses) == [201, 409], (attempt, statuses)
        calls = client.get(f"/api/cases/{case_pk}/contacts", headers=admin_headers).json["items"]
        assert len(calls) == 7

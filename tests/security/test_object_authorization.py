"""Object-level authorization (OWASP API1), generated over every route of the URL map.

Every route that takes an id in its path is classified here by the kind of object the id names.
For each one, an agent using another agent's or an admin's ids is refused (404 where the contract
hides the object's existence, 403 where it refuses an action), and nothing changes. A new route
with a path parameter fails `test_every_route_with_a_path_parameter_is_classified` until it is
added below.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from conftest import login, today

PROBLEM = "application/problem+json"


# (rule, method) -> (the object its id names, what an agent gets for someone else's, a request body)
OBJECT_ROUTES = {
    ("/api/cases/<int:case_id>", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/history", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/update-status", "PATCH"): ("case", 403, {"status": "In Progress"}),
    ("/api/cases/<int:case_id>/payments", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/payments", "POST"): ("case", 403, {"amount": "1.00", "paid_on": "2026-01-02",
                                                                  "reference": "AUTHZ-1"}),
    ("/api/cases/<int:case_id>/promises", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/promises", "POST"): ("case", 403, {"amount": "1.00", "due_date": today().isoformat()}),
    ("/api/cases/<int:case_id>/contacts", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/contacts", "POST"): ("case", 403, {"channel": "letter", "direction": "outbound",
                                                                  "outcome": "no_answer"}),
    ("/api/cases/<int:case_id>/contact-eligibility", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/holds", "GET"): ("case", 404, None),
    ("/api/cases/<int:case_id>/holds", "POST"): ("case", 403, {"type": "pause", "reason": "holiday",
                                                               "until": (today() + timedelta(days=1)).isoformat()}),
    ("/api/holds/<int:hold_id>/lift", "POST"): ("hold", 403, {"reason": "over"}),
    ("/api/payments/<int:payment_id>/reverse", "POST"): ("payment", 403, {"reason": "bounced"}),
    ("/api/promises/<int:promise_id>/cancel", "POST"): ("promise", 403, {"reason": "changed"}),
    ("/api/jobs/<uuid:job_id>", "GET"): ("job", 404, None),
    ("/api/jobs/<uuid:job_id>/cancel", "POST"): ("job", 404, None),
    ("/api/jobs/<uuid:job_id>/errors", "GET"): ("job", 404, None),
    ("/api/users/<int:user_id>", "GET"): ("user", 403, None),
    ("/api/users/<int:user_id>", "PATCH"): ("user", 403, {"role": "admin", "active": False}),
}
# Path parameters that name no one's object: files of the app itself.
PUBLIC_FILES = {"/static/<path:filename>", "/api-docs/assets/<path:filename>"}

_PARAMETER = re.compile(r"<(?:\w+(?:\([^)]*\))?:)?\w+>")


def _routes_with_parameters(app) -> set[tuple[str, str]]:
    return {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.arguments
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def _url(rule: str, object_id) -> str:
    return _PARAMETER.sub(str(object_id), rule)


def test_every_route_with_a_path_parameter_is_classified(app):
    unclassified = {(rule, method) for rule, method in _routes_with_parameters(app)
                    if (rule, method) not in OBJECT_ROUTES and rule not in PUBLIC_FILES}
    assert unclassified == set(), "classify these routes in OBJECT_ROUTES (or PUBLIC_FILES)"
    assert set(OBJECT_ROUTES) <= _routes_with_parameters(app), "OBJECT_ROUTES names routes that are gone"


@pytest.fixture
def world(client, engine, make_user, make_case, make_job):
    """Two agents of one team, an admin, and objects belonging to each."""
    from domain.jobs import JobType

    me, other = make_user("call_center_agent"), make_user("call_center_agent")
    admin = make_user("admin")
    admin_headers = login(client, admin.email)
    with engine.begin() as conn:  # the suite's cleanup truncates the cases, not the payments
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")

    def money_of(case_pk: int) -> dict:
        """A payment on the case, and an open promise on another case of the same owner."""
        payment = client.post(f"/api/cases/{case_pk}/payments", headers=admin_headers, json={
            "amount": "10.00", "paid_on": today().isoformat(), "reference": f"WORLD-{case_pk}"}).json
        owner = client.get(f"/api/cases/{case_pk}", headers=admin_headers).json
        sibling = make_case(assigned_to=owner["assigned_to"], days_past_due=owner["days_past_due"])
        promise = client.post(f"/api/cases/{sibling}/promises", headers=admin_headers,
                              json={"amount": "10.00", "due_date": today().isoformat()}).json
        hold = client.post(f"/api/cases/{sibling}/holds", headers=admin_headers,
                           json={"type": "dispute", "reason": "the amount"}).json
        return {"case": case_pk, "payment": payment["id"], "promise": promise["id"], "hold": hold["id"]}

    objects = {
        "other agent": {**money_of(make_case(assigned_to=other.id, borrower_name="Other Agent's Borrower")),
                        "job": make_job(JobType.INGEST, created_by=other.id), "user": other.id},
        "admin": {**money_of(make_case(borrower_name="Nobody's Borrower")),  # unassigned: the admins' pool
                  "job": make_job(JobType.ASSIGN, created_by=admin.id), "user": admin.id},
        "beat": {**money_of(make_case(days_past_due=400, borrower_name="Legal Borrower")),
                 "job": make_job(JobType.ASSIGN), "user": me.id},  # nobody's job; the agent's own user
    }
    return {"me": login(client, me.email), "other": login(client, other.email), "admin": admin_headers,
            "objects": objects}


def _snapshot(engine) -> list:
    """Everything an action on a case, a job or a user could change."""
    with engine.connect() as conn:
        return [conn.execute(text(query)).all() for query in (
            "SELECT id, status, assigned_to, version FROM cases_processed ORDER BY id",
            "SELECT id, state, cancel_requested FROM jobs ORDER BY id",
            "SELECT id, role, active, name FROM users ORDER BY id",
            "SELECT count(*) FROM case_status_history",
            "SELECT id, reversed_at FROM payments ORDER BY id",
            "SELECT id, status, paid FROM promises ORDER BY id",
            "SELECT count(*) FROM contacts", "SELECT id, lifted_at FROM holds ORDER BY id",
        )]


@pytest.mark.parametrize("owner", ["other agent", "admin", "beat"])
def test_an_agent_never_reaches_objects_that_are_not_its_own(app, client, engine, world, owner):
    before = _snapshot(engine)
    wrong = {}
    for (rule, method), (kind, expected, body) in OBJECT_ROUTES.items():
        response = client.open(_url(rule, world["objects"][owner][kind]), method=method, json=body,
                               headers=world["me"])
        answer = (response.status_code, response.content_type)
        if answer != (expected, PROBLEM) or "Borrower" in response.get_data(as_text=True):
            wrong[f"{method} {rule}"] = answer
    assert wrong == {}
    assert _snapshot(engine) == before  # nothing was changed by any of the refused requests


def test_the_rightful_callers_reach_the_same_objects(client, world):
    """The control: the ids are real and the routes work for whoever may use them."""
    own = world["objects"]["other agent"]
    answers = {}
    for (rule, method), (kind, _, body) in OBJECT_ROUTES.items():
        caller = world["admin"] if kind in ("user", "payment") else world["other"]  # reversing is admin only
        answers[f"{method} {rule}"] = client.open(_url(rule, own[kind]), method=method, json=body,
                                                  headers=caller).status_code
    assert all(200 <= status < 300 for status in answers.values()), answers


@pytest.mark.parametrize("owner", ["other agent", "admin"])
def test_a_missing_object_and_someone_elses_look_the_same(client, world, owner):
    """404 must not tell an agent that the id exists."""
    for (rule, method), (kind, expected, body) in OBJECT_ROUTES.items():
        if expected != 404:
            continue
        missing = "00000000-0000-4000-8000-000000000000" if kind == "job" else 999_999
        theirs = client.open(_url(rule, world["objects"][owner][kind]), method=method, json=body,
                             headers=world["me"]).json
        absent = client.open(_url(rule, missing), method=method, json=body, headers=world["me"]).json
        assert (theirs["status"], theirs["title"]) == (absent["status"], absent["title"]), rule

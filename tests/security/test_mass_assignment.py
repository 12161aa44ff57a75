"""Mass assignment (OWASP API3): no request can set a field its schema does not name.

The write routes are found in the app itself (every route with a JSON body argument); each must
have a valid sample body below, which is accepted as it is and refused (400, naming the field)
once it carries a field an attacker would like to set — at the top and inside nested objects.
A new write route fails `test_every_write_route_has_a_sample_body` until it gets one.
"""
from __future__ import annotations

import copy
import io
import json
from datetime import timedelta

import pytest
from marshmallow import RAISE, Schema, fields
from sqlalchemy import text

from conftest import login, today, wait_for_job

PROBLEM = "application/problem+json"


# What an attacker would add to a body: identities, ownership, roles, versions, states.
ATTRACTIVE = ("id", "is_admin", "role", "team", "created_by", "assigned_to", "password_hash", "version",
              "state", "active", "amount_recovered", "status")


def _samples(world) -> dict[tuple[str, str], tuple[str, dict]]:
    """(rule, method) -> (url, a body the route accepts)."""
    return {
        ("/api/auth/login", "POST"): ("/api/auth/login", {"email": world["admin"].email, "password": "password123"}),
        ("/api/users", "POST"): ("/api/users", {"email": "new@example.com", "name": "New", "password": "password123",
                                                "role": "field_agent"}),
        ("/api/users/<int:user_id>", "PATCH"): (f"/api/users/{world['agent'].id}", {"name": "Renamed"}),
        ("/api/cases/<int:case_id>/update-status", "PATCH"): (f"/api/cases/{world['case']}/update-status",
                                                              {"status": "Escalated", "comment": "call back"}),
        ("/api/cases/assign", "POST"): ("/api/cases/assign", {"dry_run": True}),
        ("/api/assignment/rules", "PUT"): ("/api/assignment/rules", {"bands": [
            {"team": "call_center", "max_dpd": 30}, {"team": "field", "max_dpd": 90},
            {"team": "legal", "max_dpd": None}]}),
        ("/api/cases/<int:case_id>/payments", "POST"): (f"/api/cases/{world['case']}/payments", {
            "amount": "10.00", "paid_on": today().isoformat(), "reference": "MA-1", "method": "card"}),
        ("/api/payments/<int:payment_id>/reverse", "POST"): (f"/api/payments/{world['payment']}/reverse",
                                                             {"reason": "bounced"}),
        ("/api/cases/<int:case_id>/promises", "POST"): (f"/api/cases/{world['case']}/promises",
                                                        {"amount": "10.00", "due_date": today().isoformat()}),
        ("/api/promises/<int:promise_id>/cancel", "POST"): (f"/api/promises/{world['promise']}/cancel",
                                                            {"reason": "changed"}),
        ("/api/promises/evaluate", "POST"): ("/api/promises/evaluate", {"as_of": today().isoformat()}),
        ("/api/cases/<int:case_id>/contacts", "POST"): (f"/api/cases/{world['case']}/contacts", {
            "channel": "letter", "direction": "outbound", "outcome": "no_answer", "note": "sent"}),
        ("/api/cases/<int:case_id>/holds", "POST"): (f"/api/cases/{world['case']}/holds",
                                                     {"type": "attorney", "reason": "represented"}),
        ("/api/holds/<int:hold_id>/lift", "POST"): (f"/api/holds/{world['hold']}/lift", {"reason": "over"}),
        ("/api/contact-policy", "PUT"): ("/api/contact-policy", {"window_end": "20:00",
                                                                 "by_bank": {"B": {"calls_per_7_days": 5}}}),
    }


def _json_arguments(app) -> dict[tuple[str, str], type[Schema]]:
    """(rule, method) -> the schema of its JSON body, for every route that takes one."""
    found = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            function = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
            for argument in getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                if argument["in"] == "json":
                    found[(rule.rule, method)] = argument["schema"]
    return found


def _with_extras(body: dict, schema: Schema) -> tuple[dict, set[str]]:
    """The body with attractive unknown fields added at the top and in nested objects; the error keys expected."""
    body = copy.deepcopy(body)
    expected = set()
    names = {f.data_key or name for name, f in schema.fields.items()}
    for extra in (name for name in ATTRACTIVE if name not in names):
        body[extra] = 1
        expected.add(extra)
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, fields.List) else field
        key = field.data_key or name
        if isinstance(inner, fields.Nested) and body.get(key):
            nested = body[key][0] if isinstance(field, fields.List) else body[key]
            nested["is_admin"] = True
            expected.add(f"{key}.0.is_admin" if isinstance(field, fields.List) else f"{key}.is_admin")
    return body, expected


@pytest.fixture
def world(client, engine, make_user, make_case):
    admin, agent = make_user("admin"), make_user("call_center_agent")
    headers = login(client, admin.email)
    with engine.begin() as conn:  # the suite's cleanup truncates the cases, not the payments
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")
    paid, promised = make_case(assigned_to=agent.id), make_case(assigned_to=agent.id)
    payment = client.post(f"/api/cases/{paid}/payments", headers=headers,
                          json={"amount": "10.00", "paid_on": today().isoformat(), "reference": "MA-0"}).json
    promise = client.post(f"/api/cases/{promised}/promises", headers=headers,
                          json={"amount": "10.00", "due_date": today().isoformat()}).json
    tomorrow = (today() + timedelta(days=1)).isoformat()
    hold = client.post(f"/api/cases/{promised}/holds", headers=headers,
                       json={"type": "pause", "reason": "holiday", "until": tomorrow}).json
    return {"admin": admin, "agent": agent, "headers": headers,
            "case": make_case(assigned_to=agent.id, status="In Progress"), "payment": payment["id"],
            "promise": promise["id"], "hold": hold["id"]}


def test_every_write_route_has_a_sample_body(app, world):
    assert set(_json_arguments(app)) == set(_samples(world))


def test_every_json_body_schema_refuses_unknown_fields(app):
    def strict(schema: Schema) -> bool:
        nested = [f.inner if isinstance(f, fields.List) else f for f in schema.fields.values()]
        return schema.unknown == RAISE and all(strict(f.schema) for f in nested if isinstance(f, fields.Nested))

    lax = {route: schema.__name__ for route, schema in _json_arguments(app).items() if not strict(schema())}
    assert lax == {}


@pytest.mark.parametrize("route", [
    ("/api/auth/login", "POST"), ("/api/users", "POST"), ("/api/users/<int:user_id>", "PATCH"),
    ("/api/cases/<int:case_id>/update-status", "PATCH"), ("/api/cases/assign", "POST"),
    ("/api/assignment/rules", "PUT"), ("/api/cases/<int:case_id>/payments", "POST"),
    ("/api/payments/<int:payment_id>/reverse", "POST"), ("/api/cases/<int:case_id>/promises", "POST"),
    ("/api/promises/<int:promise_id>/cancel", "POST"), ("/api/promises/evaluate", "POST"),
    ("/api/cases/<int:case_id>/contacts", "POST"), ("/api/cases/<int:case_id>/holds", "POST"),
    ("/api/holds/<int:hold_id>/lift", "POST"), ("/api/contact-policy", "PUT"),
], ids=lambda route: f"{route[1]} {route[0]}")
def test_unknown_fields_are_refused_naming_them_and_change_nothing(app, client, engine, world, route):
    url, body = _samples(world)[route]
    schema = _json_arguments(app)[route]()
    tampered, expected = _with_extras(body, schema)
    before = _state(engine)
    response = client.open(url, method=route[1], json=tampered, headers=world["headers"])
    assert (response.status_code, response.content_type) == (400, PROBLEM), response.get_data(as_text=True)
    assert expected <= set(response.json["errors"]), response.json["errors"]
    assert _state(engine) == before
    # the control: the same body without the extras goes through
    assert client.open(url, method=route[1], json=body, headers=world["headers"]).status_code < 300


def _state(engine) -> list:
    with engine.connect() as conn:
        return [conn.execute(text(query)).all() for query in (
            "SELECT id, role, active, name FROM users ORDER BY id",
            "SELECT id, status, assigned_to, version, amount_recovered FROM cases_processed ORDER BY id",
            "SELECT count(*) FROM jobs", "SELECT * FROM assignment_bands ORDER BY position",
            "SELECT id, reversed_at FROM payments ORDER BY id", "SELECT id, status FROM promises ORDER BY id",
            "SELECT count(*) FROM contacts", "SELECT id, lifted_at FROM holds ORDER BY id",
            "SELECT settings FROM contact_policy")]


@pytest.mark.parametrize("role", ["call_center_agent", "field_agent", "legal_team"])
def test_no_agent_can_raise_its_own_or_anyone_elses_role(client, make_user, engine, role):
    agent, other = make_user(role), make_user("call_center_agent")
    headers = login(client, agent.email)
    attempts = [
        ("PATCH", f"/api/users/{agent.id}", {"role": "admin"}),
        ("PATCH", f"/api/users/{other.id}", {"role": "admin"}),
        ("POST", "/api/users", {"email": "mine@example.com", "name": "Mine", "password": "password123",
                                "role": "admin"}),
    ]
    answers = [client.open(url, method=method, json=body, headers=headers).status_code
               for method, url, body in attempts]
    assert answers == [403, 403, 403]
    with engine.connect() as conn:
        roles = dict(conn.execute(text("SELECT email, role::text FROM users")).all())
    assert roles == {agent.email: role, other.email: "call_center_agent"}
    # a fresh login changes nothing either
    assert client.get("/api/users", headers=login(client, agent.email)).status_code == 403


def test_fields_beyond_the_case_columns_in_an_uploaded_file_set_nothing(client, uow, make_user, worker):
    """A file is a write too: extra keys are kept in the raw record, never applied to the case."""
    admin, agent = make_user("admin"), make_user("call_center_agent")
    case = {"case_id": "MA-1", "bank_code": "HDFC", "borrower_name": "Asha Rao", "loan_amount": "1000.00",
            "due_amount": "100.00", "days_past_due": 10, "priority": "Low", "region": "North",
            "status": "Resolved", "assigned_to": agent.id, "amount_recovered": "100.00", "version": 99,
            "team": "legal", "id": 12345, "created_at": "2000-01-01T00:00:00+00:00"}
    response = client.post("/api/cases/upload", data={"file": (io.BytesIO(json.dumps([case]).encode()), "x.json")},
                           content_type="multipart/form-data", headers=login(client, admin.email))
    assert response.status_code == 202, response.get_data(as_text=True)
    headers = login(client, admin.email)
    assert wait_for_job(client, headers, response.json["id"])["state"] == "succeeded"
    with uow() as u:
        stored = u.connection.execute(text(
            "SELECT id, status::text, assigned_to, amount_recovered, version, team::text, created_at > now() - "
            "interval '1 hour' FROM cases_processed WHERE case_id = 'MA-1'")).one()
        raw = json.loads(u.connection.execute(text("SELECT record FROM cases_raw WHERE case_id = 'MA-1'")).scalar_one())
        assignments = u.connection.execute(text("SELECT count(*) FROM case_assignments")).scalar_one()
    assert stored[0] != 12345
    assert tuple(stored[1:]) == ("Pending", None, None, 1, "call_center", True)
    assert assignments == 0
    assert raw["status"] == "Resolved" and raw["assigned_to"] == agent.id  # kept as received, applied nowhere

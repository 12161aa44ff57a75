"""The users API: admin only; creating, listing, changing users; releasing an agent's cases."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from conftest import login

ROUTES = [("get", "/api/users"), ("post", "/api/users"), ("get", "/api/users/1"), ("patch", "/api/users/1")]


def create(client, headers, **body):
    body = {"email": "new.agent@example.com", "name": "New Agent", "password": "s3cret-pass",
            "role": "field_agent", **body}
    return client.post("/api/users", json=body, headers=headers)


def me(client, headers) -> int:
    return client.get("/api/auth/me", headers=headers).json["id"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("role", ["call_center_agent", "field_agent", "legal_team"])
def test_agents_may_not_call_any_users_route(client, agent_headers, method, path, role):
    _, headers = agent_headers(role)
    response = getattr(client, method)(path, json={"role": "admin"} if method != "get" else None, headers=headers)
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_users_routes_need_a_token(client, method, path):
    assert getattr(client, method)(path).status_code == 401


def test_an_agent_cannot_make_itself_admin(client, agent_headers, make_user, admin_headers):
    agent, headers = agent_headers("field_agent")
    assert client.patch(f"/api/users/{agent.id}", json={"role": "admin"}, headers=headers).status_code == 403
    assert client.get(f"/api/users/{agent.id}", headers=admin_headers).json["role"] == "field_agent"


def test_an_admin_creates_a_user_who_can_log_in(client, admin_headers):
    response = create(client, admin_headers)
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "email", "name", "role", "team", "active", "created_at"}
    assert (body["email"], body["name"], body["role"], body["team"], body["active"]) == (
        "new.agent@example.com", "New Agent", "field_agent", "field", True)
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    login(client, "new.agent@example.com", "s3cret-pass")


def test_a_duplicate_email_is_a_conflict_whatever_its_case(client, admin_headers):
    assert create(client, admin_headers).status_code == 201
    response = create(client, admin_headers, email="New.Agent@Example.com")
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("body", [
    {"role": "superuser"}, {"password": "short"}, {"email": "not-an-email"}, {"name": ""},
    {"team": "legal"}, {"active": False},
])
def test_invalid_new_users_are_refused_with_a_problem(client, admin_headers, body):
    response = create(client, admin_headers, **body)
    assert response.status_code == 400
    assert response.json["errors"]


def test_the_list_filters_by_role_and_activity_and_pages_by_id(client, admin_headers, make_user):
    agents = [make_user("call_center_agent").id for _ in range(5)]
    make_user("legal_team")
    client.patch(f"/api/users/{agents[1]}", json={"active": False}, headers=admin_headers)
    seen, cursor = [], None
    while True:
        query = {"role": "call_center_agent", "active": "true", "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/users", query_string=query, headers=admin_headers)
        assert response.status_code == 200
        seen += [u["id"] for u in response.json["items"]]
        assert all(u["role"] == "call_center_agent" and u["active"] for u in response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [a for a in agents if a != agents[1]]
    inactive = client.get("/api/users", query_string={"active": "false"}, headers=admin_headers).json["items"]
    assert [u["id"] for u in inactive] == [agents[1]]


@pytest.mark.parametrize("query", [{"cursor": "garbage"}, {"cursor": "WyJ4Il0"}, {"role": "boss"}, {"limit": 0},
                                   {"limit": 501}, {"active": "sometimes"}])
def test_bad_list_parameters_are_a_400(client, admin_headers, query):
    assert client.get("/api/users", query_string=query, headers=admin_headers).status_code == 400


def test_an_unknown_user_is_a_404(client, admin_headers):
    assert client.get("/api/users/999999", headers=admin_headers).status_code == 404
    assert client.patch("/api/users/999999", json={"name": "x"}, headers=admin_headers).status_code == 404


def test_a_deactivated_user_is_locked_out_at_once(client, admin_headers, make_user):
    user = make_user("legal_team")
    headers = login(client, user.email)
    response = client.patch(f"/api/users/{user.id}", json={"active": False}, headers=admin_headers)
    assert response.status_code == 200 and response.json["active"] is False
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert client.post("/api/auth/login", json={"email": user.email, "password": "password123"}).status_code == 401


def test_an_admin_changes_name_role_and_password(client, admin_headers, make_user):
    user = make_user("call_center_agent")
    response = client.patch(f"/api/users/{user.id}", json={"name": "Renamed", "role": "legal_team",
                                                           "password": "another-pass"}, headers=admin_headers)
    assert response.status_code == 200
    assert (response.json["name"], response.json["role"], response.json["team"]) == ("Renamed", "legal_team", "legal")
    login(client, user.email, "another-pass")


def test_an_admin_cannot_deactivate_or_demote_itself(client, admin_headers):
    admin_id = me(client, admin_headers)
    for change in ({"active": False}, {"role": "field_agent"}):
        assert client.patch(f"/api/users/{admin_id}", json=change, headers=admin_headers).status_code == 409
    renamed = client.patch(f"/api/users/{admin_id}", json={"name": "Still Admin"}, headers=admin_headers)
    assert renamed.status_code == 200


def assignment_state(client, engine, admin_headers, case_pk):
    """The case, its assignment rows (ended?, by, why) and its history as the API shows it."""
    with engine.connect() as conn:
        case = conn.execute(text("SELECT assigned_to, status::text, version FROM cases_processed WHERE id = :c"),
                            {"c": case_pk}).one()
        rows = conn.execute(text("SELECT released_at IS NOT NULL, released_by, release_reason FROM case_assignments "
                                 "WHERE case_pk = :c"), {"c": case_pk}).all()
    history = client.get(f"/api/cases/{case_pk}/history", headers=admin_headers).json
    return case, [tuple(r) for r in rows], [(h["by"], h["kind"], h["from"], h["to"], h["comment"]) for h in history]


@pytest.mark.parametrize(("change", "reason"), [({"active": False}, "agent deactivated"),
                                                ({"role": "legal_team"}, "agent moved to role legal_team")])
def test_an_agent_leaving_its_team_gives_back_its_open_cases(client, engine, admin_headers, make_user, make_case,
                                                              change, reason):
    agent, other = make_user("field_agent"), make_user("field_agent")
    working = make_case(days_past_due=40, assigned_to=agent.id, status="In Progress")
    escalated = make_case(days_past_due=50, assigned_to=agent.id, status="Escalated")
    pending = make_case(days_past_due=60, assigned_to=agent.id, status="Pending")
    resolved = make_case(days_past_due=70, assigned_to=agent.id, status="Resolved")
    theirs = make_case(days_past_due=80, assigned_to=other.id, status="In Progress")
    admin_id = me(client, admin_headers)

    assert client.patch(f"/api/users/{agent.id}", json=change, headers=admin_headers).status_code == 200

    assigned = (None, "assignment", None, agent.id, None)  # make_case's assignment
    for case_pk, status_before in ((working, "In Progress"), (escalated, "Escalated"), (pending, "Pending")):
        case, rows, history = assignment_state(client, engine, admin_headers, case_pk)
        assert (case.assigned_to, case.status, case.version) == (None, "Pending", 2)
        assert rows == [(True, admin_id, reason)]
        expected = [assigned, (admin_id, "assignment", agent.id, None, reason)]
        if status_before != "Pending":
            expected.append((admin_id, "status", status_before, "Pending", reason))
        assert history == expected
    for case_pk, owner, status in ((resolved, agent.id, "Resolved"), (theirs, other.id, "In Progress")):
        case, rows, history = assignment_state(client, engine, admin_headers, case_pk)
        assert (case.assigned_to, case.status, case.version) == (owner, status, 1)
        assert (rows, history) == ([(False, None, None)], [(None, "assignment", None, owner, None)])


def test_renaming_an_agent_keeps_its_cases(client, engine, admin_headers, make_user, make_case):
    agent = make_user("call_center_agent")
    case_pk = make_case(assigned_to=agent.id, status="In Progress")
    assert client.patch(f"/api/users/{agent.id}", json={"name": "Still Here", "active": True},
                        headers=admin_headers).status_code == 200
    case, rows, history = assignment_state(client, engine, admin_headers, case_pk)
    assert (case.assigned_to, rows, history) == (agent.id, [(False, None, None)],
                                                 [(None, "assignment", None, agent.id, None)])

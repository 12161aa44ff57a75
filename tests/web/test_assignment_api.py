"""POST /api/cases/assign and /api/assignment/rules: the contract, roles and validation."""
from __future__ import annotations

import pytest

DEFAULT_BANDS = [{"team": "call_center", "max_dpd": 30}, {"team": "field", "max_dpd": 90},
                 {"team": "legal", "max_dpd": None}]


def test_starting_a_run_answers_202_with_the_assign_job(client, admin_headers):
    response = client.post("/api/cases/assign", json={"dry_run": True}, headers=admin_headers)
    assert response.status_code == 202
    job = response.json
    assert response.headers["Location"] == f"/api/jobs/{job['id']}"
    assert (job["type"], job["state"], job["params"]) == ("assign", "queued", {"dry_run": True})
    assert job["created_by"] == client.get("/api/auth/me", headers=admin_headers).json["id"]
    assert job["created_at"] is not None
    assert client.get(response.headers["Location"], headers=admin_headers).json["id"] == job["id"]


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}])
def test_a_run_is_not_a_dry_run_unless_asked(client, admin_headers, kwargs):
    response = client.post("/api/cases/assign", headers=admin_headers, **kwargs)
    assert response.status_code == 202
    assert response.json["params"] == {"dry_run": False}


@pytest.mark.parametrize("body", [{"dry_run": "maybe"}, {"dry_run": False, "team": "legal"}, [1, 2]])
def test_a_bad_run_request_is_a_400_problem(client, admin_headers, body):
    response = client.post("/api/cases/assign", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


def test_only_admins_start_runs(client, agent_headers):
    _, headers = agent_headers("legal_team")
    assert client.post("/api/cases/assign", json={}, headers=headers).status_code == 403
    assert client.post("/api/cases/assign", json={}).status_code == 401


@pytest.mark.parametrize("role", ["admin", "call_center_agent", "field_agent"])
def test_any_signed_in_user_reads_the_rules(client, make_user, role):
    from conftest import login

    headers = login(client, make_user(role).email)
    response = client.get("/api/assignment/rules", headers=headers)
    assert response.status_code == 200
    assert response.json == {"bands": DEFAULT_BANDS}


def test_reading_the_rules_needs_a_token(client):
    assert client.get("/api/assignment/rules").status_code == 401


def test_an_admin_replaces_the_rules(client, admin_headers):
    bands = [{"team": "call_center", "max_dpd": 15}, {"team": "field", "max_dpd": 60},
             {"team": "call_center", "max_dpd": 75}, {"team": "legal", "max_dpd": None}]
    response = client.put("/api/assignment/rules", json={"bands": bands}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json == {"bands": bands}
    assert client.get("/api/assignment/rules", headers=admin_headers).json == {"bands": bands}
    shorter = [{"team": "field", "max_dpd": 0}, {"team": "legal", "max_dpd": None}]
    replaced = client.put("/api/assignment/rules", json={"bands": shorter}, headers=admin_headers)
    assert replaced.json == {"bands": shorter}


def test_agents_cannot_change_the_rules(client, agent_headers, admin_headers):
    _, headers = agent_headers("field_agent")
    response = client.put("/api/assignment/rules", json={"bands": DEFAULT_BANDS[2:]}, headers=headers)
    assert response.status_code == 403
    assert client.get("/api/assignment/rules", headers=admin_headers).json == {"bands": DEFAULT_BANDS}


@pytest.mark.parametrize("bands", [
    [],
    [{"team": "call_center", "max_dpd": 30}],
    [{"team": "field", "max_dpd": 90}, {"team": "call_center", "max_dpd": 30}, {"team": "legal", "max_dpd": None}],
    [{"team": "field", "max_dpd": 30}, {"team": "field", "max_dpd": 30}, {"team": "legal", "max_dpd": None}],
    [{"team": "field", "max_dpd": None}, {"team": "legal", "max_dpd": None}],
    [{"team": "field", "max_dpd": -1}, {"team": "legal", "max_dpd": None}],
    [{"team": "collections", "max_dpd": None}],
    [{"team": "legal"}],
    [{"team": "legal", "max_dpd": None, "priority": "High"}],
    [{"team": "field", "max_dpd": 2**31}, {"team": "legal", "max_dpd": None}],
    [{"team": "field", "max_dpd": "ten"}, {"team": "legal", "max_dpd": None}],
    "all to legal",
])
def test_invalid_rules_are_a_400_and_change_nothing(client, admin_headers, bands):
    response = client.put("/api/assignment/rules", json={"bands": bands}, headers=admin_headers)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json["errors"]
    assert client.get("/api/assignment/rules", headers=admin_headers).json == {"bands": DEFAULT_BANDS}


def test_the_openapi_document_describes_assignment(client):
    paths = client.get("/openapi.json").json["paths"]
    assert set(paths["/api/cases/assign"]) == {"post"}
    assert set(paths["/api/assignment/rules"]) == {"get", "put"}
    assert {"get", "post"} <= set(paths["/api/users"]) and {"get", "patch"} <= set(paths["/api/users/{user_id}"])

"""Auth as API.md says: login, refresh, logout, /me, token checks, rate limit, 401 everywhere."""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from conftest import login

PROBLEM = "application/problem+json"
PUBLIC_ROUTES = {"/api/auth/login", "/api/auth/refresh"}


def _login(client, email, password="password123"):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _tokens(client, email) -> tuple[str, str]:
    body = _login(client, email).json
    return body["access_token"], body["refresh_token"]


def _assert_401(response):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    assert response.json["status"] == 401


def _forged(user_id: int, *, key: str, algorithm: str = "HS256", expires_in=timedelta(minutes=5), **claims) -> str:
    """An access token built by hand, shaped like the app's own."""
    now = datetime.now(UTC)
    payload = {"sub": str(user_id), "type": "access", "fresh": False, "jti": str(uuid.uuid4()),
               "iat": now, "nbf": now, "exp": now + expires_in, "sid": uuid.uuid4().hex, "role": "admin"}
    return jwt.encode({**payload, **claims}, key, algorithm=algorithm)


def test_login_answers_the_token_pair_and_the_user(client, make_user, settings):
    user = make_user("field_agent", name="Field One")
    response = _login(client, user.email)
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    assert body["user"] == {"id": user.id, "email": user.email, "name": "Field One", "role": "field_agent"}
    assert "password" not in response.get_data(as_text=True)


def test_login_ignores_the_case_of_the_email(client, make_user):
    user = make_user("admin", email="Boss@Example.com")
    assert _login(client, "  boss@EXAMPLE.com ").status_code == 200
    assert _login(client, user.email).json["user"]["id"] == user.id


def test_wrong_email_and_wrong_password_give_the_same_401(client, make_user):
    user = make_user("admin")
    wrong_password = _login(client, user.email, "not-the-password")
    unknown_email = _login(client, "nobody@example.com")
    _assert_401(wrong_password)
    _assert_401(unknown_email)
    assert wrong_password.json == unknown_email.json


def test_an_inactive_user_cannot_log_in(client, make_user, uow):
    user = make_user("call_center_agent")
    with uow() as u:
        u.users.update(user.id, active=False)
        u.commit()
    response = _login(client, user.email)
    _assert_401(response)
    assert response.json == _login(client, "nobody@example.com").json


def test_a_deactivated_users_tokens_stop_working(client, make_user, uow):
    user = make_user("call_center_agent")
    access, refresh = _tokens(client, user.email)
    with uow() as u:
        u.users.update(user.id, active=False)
        u.commit()
    _assert_401(client.get("/api/auth/me", headers=_bearer(access)))
    _assert_401(client.post("/api/auth/refresh", headers=_bearer(refresh)))


def test_me_answers_the_caller(client, make_user):
    user = make_user("legal_team", name="Legal One")
    response = client.get("/api/auth/me", headers=login(client, user.email))
    assert response.status_code == 200
    body = response.json
    assert {k: body[k] for k in ("id", "email", "name", "role", "team", "active")} == {
        "id": user.id, "email": user.email, "name": "Legal One", "role": "legal_team", "team": "legal", "active": True,
    }
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)


def test_refresh_token_gives_a_working_access_token(client, make_user, settings):
    user = make_user("admin")
    _, refresh = _tokens(client, user.email)
    response = client.post("/api/auth/refresh", headers=_bearer(refresh))
    assert response.status_code == 200
    assert set(response.json) == {"access_token", "expires_in"}
    assert response.json["expires_in"] == settings.access_token_minutes * 60
    me = client.get("/api/auth/me", headers=_bearer(response.json["access_token"]))
    assert me.status_code == 200 and me.json["id"] == user.id


def test_a_refresh_token_is_refused_as_an_access_token(client, make_user):
    _, refresh = _tokens(client, make_user("admin").email)
    _assert_401(client.get("/api/auth/me", headers=_bearer(refresh)))


def test_an_access_token_is_refused_at_refresh(client, make_user):
    access, _ = _tokens(client, make_user("admin").email)
    _assert_401(client.post("/api/auth/refresh", headers=_bearer(access)))


def test_logout_revokes_the_access_token_and_its_refresh_token_at_once(client, make_user):
    user = make_user("admin")
    access, refresh = _tokens(client, user.email)
    refreshed = client.post("/api/auth/refresh", headers=_bearer(refresh)).json["access_token"]
    response = client.post("/api/auth/logout", headers=_bearer(access))
    assert response.status_code == 204
    assert response.get_data() == b""
    _assert_401(client.get("/api/auth/me", headers=_bearer(access)))
    _assert_401(client.get("/api/auth/me", headers=_bearer(refreshed)))
    _assert_401(client.post("/api/auth/refresh", headers=_bearer(refresh)))


def test_logout_leaves_the_users_other_sessions_alone(client, make_user):
    user = make_user("admin")
    first, _ = _tokens(client, user.email)
    second, _ = _tokens(client, user.email)
    assert client.post("/api/auth/logout", headers=_bearer(first)).status_code == 204
    assert client.get("/api/auth/me", headers=_bearer(second)).status_code == 200


def test_a_hand_made_token_signed_with_the_apps_key_works(client, make_user, settings):
    """The control for the forgery tests below: the forged shape itself is acceptable."""
    user = make_user("admin")
    token = _forged(user.id, key=settings.jwt_secret)
    assert client.get("/api/auth/me", headers=_bearer(token)).status_code == 200


@pytest.mark.parametrize("forgery", [
    pytest.param({"key": "another-key-of-at-least-thirty-two-characters"}, id="another-key"),
    pytest.param({"key": None, "algorithm": "none"}, id="alg-none"),
    pytest.param({"expires_in": timedelta(minutes=-1)}, id="expired"),
    pytest.param({"sid": None}, id="no-session-id"),
    pytest.param({"sub": "999999"}, id="unknown-user"),
])
def test_forged_or_expired_tokens_are_refused(client, make_user, settings, forgery):
    user = make_user("admin")
    token = _forged(user.id, **{"key": settings.jwt_secret, **forgery})
    _assert_401(client.get("/api/auth/me", headers=_bearer(token)))


@pytest.mark.parametrize("header", ["Bearer", "Bearer not.a.jwt", "Basic YWRtaW46cGFzc3dvcmQxMjM=", "token abc"])
def test_malformed_authorization_headers_are_refused(client, header):
    _assert_401(client.get("/api/auth/me", headers={"Authorization": header}))


def test_login_is_rate_limited_with_retry_after(settings, clean_db, make_user):
    from web import create_app

    limited = create_app(replace(settings, login_rate_limit="3 per minute")).test_client()
    user = make_user("admin")
    assert [_login(limited, user.email, "wrong-password").status_code for _ in range(3)] == [401, 401, 401]
    response = _login(limited, user.email)  # even the right password, once over the limit
    assert response.status_code == 429
    assert response.content_type == PROBLEM
    assert response.json["status"] == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
    ('"a string"', "application/json"),
    ("", "application/json"),
])
def test_malformed_login_bodies_are_400_problems(client, body, content_type):
    response = client.post("/api/auth/login", data=body, content_type=content_type)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.content_type == PROBLEM


def test_login_with_an_unknown_field_is_refused_naming_it(client, make_user):
    user = make_user("admin")
    response = client.post("/api/auth/login", json={"email": user.email, "password": "password123", "role": "admin"})
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert "role" in response.json["errors"]


def test_login_without_a_password_names_the_missing_field(client):
    response = client.post("/api/auth/login", json={"email": "someone@example.com"})
    assert response.status_code == 400
    assert "password" in response.json["errors"]


def test_login_with_a_form_body_is_a_problem_not_a_crash(client):
    response = client.post("/api/auth/login", data={"email": "a@example.com", "password": "password123"})
    assert response.status_code in (400, 415)
    assert response.content_type == PROBLEM


def _protected_requests(app) -> list[tuple[str, str]]:
    """(method, url) for every /api route and method but the public ones, path parameters filled."""
    samples = {"uuid": str(uuid.uuid4()), "int": "1"}
    requests = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in PUBLIC_ROUTES:
            continue
        url = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", lambda m: samples.get(m.group(1), "x"), rule.rule)
        requests += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return requests


def test_the_route_list_covers_the_known_protected_routes(app):
    found = set(_protected_requests(app))
    assert {("GET", "/api/auth/me"), ("POST", "/api/auth/logout")} <= found
    assert any(url.startswith("/api/jobs/") for _, url in found)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}], ids=["no-token", "bad-token"])
def test_every_api_route_but_login_and_refresh_needs_a_token(app, client, headers):
    answered = {}
    for method, url in _protected_requests(app):
        response = client.open(url, method=method, headers=headers, json={})
        answered[f"{method} {url}"] = (response.status_code, response.content_type)
    wrong = {route: answer for route, answer in answered.items() if answer != (401, PROBLEM)}
    assert wrong == {}

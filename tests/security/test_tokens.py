"""Tokens (OWASP API2), beyond tests/web/test_auth.py: revocation on every route, forged and
expired refresh tokens, other algorithms, tokens outside the Authorization header, and role claims
that are not trusted over the database."""
from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

PROBLEM = "application/problem+json"
PUBLIC_API_ROUTES = {"/api/auth/login", "/api/auth/refresh"}
# the test key is shorter than HS512 likes; the point is that the algorithm is refused anyway
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
_PARAMETER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>")


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _tokens(client, email) -> dict:
    response = client.post("/api/auth/login", json={"email": email, "password": "password123"})
    assert response.status_code == 200
    return response.json


def _protected_requests(app) -> list[tuple[str, str]]:
    """(method, url) of every /api route but the public ones, path parameters filled in."""
    samples = {"uuid": str(uuid.uuid4()), "int": "1"}
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule not in PUBLIC_API_ROUTES:
            url = _PARAMETER.sub(lambda m: samples.get(m.group(1), "x"), rule.rule)
            found += [(method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def _refused(response) -> bool:
    return (response.status_code, response.content_type) == (401, PROBLEM)


def _forged_refresh(user_id: int, *, key, algorithm="HS256", expires_in=timedelta(days=1)) -> str:
    now = datetime.now(UTC)
    payload = {"sub": str(user_id), "type": "refresh", "jti": str(uuid.uuid4()), "iat": now, "nbf": now,
               "exp": now + expires_in, "sid": uuid.uuid4().hex, "role": "admin"}
    return jwt.encode(payload, key, algorithm=algorithm)


def test_a_token_revoked_by_logout_is_refused_on_every_route(app, client, make_user):
    token = _tokens(client, make_user("admin").email)["access_token"]
    assert client.post("/api/auth/logout", headers=_bearer(token)).status_code == 204
    let_in = {f"{method} {url}": client.open(url, method=method, headers=_bearer(token), json={}).status_code
              for method, url in _protected_requests(app)}
    assert {route: status for route, status in let_in.items() if status != 401} == {}
    assert len(let_in) >= 20  # the route list really is every route


@pytest.mark.parametrize("forgery", [
    pytest.param({"key": "another-key-of-at-least-thirty-two-characters"}, id="another-key"),
    pytest.param({"key": None, "algorithm": "none"}, id="alg-none"),
    pytest.param({"expires_in": timedelta(seconds=-1)}, id="expired"),
    pytest.param({"algorithm": "HS512"}, id="another-algorithm"),
])
def test_forged_or_expired_refresh_tokens_get_no_access_token(client, make_user, settings, forgery):
    user = make_user("admin")
    control = _forged_refresh(user.id, key=settings.jwt_secret)
    assert client.post("/api/auth/refresh", headers=_bearer(control)).status_code == 200  # the shape is right
    token = _forged_refresh(user.id, **{"key": settings.jwt_secret, **forgery})
    assert _refused(client.post("/api/auth/refresh", headers=_bearer(token)))


def test_an_access_token_with_another_algorithm_is_refused(client, make_user, settings):
    access = _tokens(client, make_user("admin").email)["access_token"]
    claims = jwt.decode(access, settings.jwt_secret, algorithms=["HS256"])
    resigned = jwt.encode(claims, settings.jwt_secret, algorithm="HS512")
    assert client.get("/api/auth/me", headers=_bearer(jwt.encode(claims, settings.jwt_secret))).status_code == 200
    assert _refused(client.get("/api/auth/me", headers=_bearer(resigned)))


def test_a_token_whose_claims_were_edited_is_refused(client, make_user):
    access = _tokens(client, make_user("field_agent").email)["access_token"]
    header, payload, signature = access.split(".")
    claims = jwt.decode(access, options={"verify_signature": False}) | {"role": "admin", "sub": "1"}
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert _refused(client.get("/api/auth/me", headers=_bearer(f"{header}.{edited}.{signature}")))


@pytest.mark.parametrize("where", ["query", "cookie", "body"])
def test_a_token_is_only_taken_from_the_authorization_header(client, make_user, where):
    access = _tokens(client, make_user("admin").email)["access_token"]
    if where == "query":
        response = client.get("/api/auth/me", query_string={"jwt": access, "access_token": access})
    elif where == "cookie":
        client.set_cookie("access_token_cookie", access)
        response = client.get("/api/auth/me")
    else:
        response = client.post("/api/auth/logout", json={"access_token": access})
    assert _refused(response)


def test_a_demoted_admins_token_loses_the_admin_role_at_once(client, make_user, uow):
    """The token's role claim is a hint; every request reads the role from the database."""
    demoted = make_user("admin")
    access = _tokens(client, demoted.email)["access_token"]
    assert client.get("/api/users", headers=_bearer(access)).status_code == 200
    from domain.users import Role

    with uow() as u:
        u.users.update(demoted.id, role=Role.CALL_CENTER_AGENT)
        u.commit()
    assert jwt.decode(access, options={"verify_signature": False})["role"] == "admin"  # still says so
    for method, url in [("GET", "/api/users"), ("POST", "/api/cases/assign"), ("GET", "/api/analytics/summary")]:
        response = client.open(url, method=method, json={}, headers=_bearer(access))
        assert (response.status_code, response.content_type) == (403, PROBLEM), url

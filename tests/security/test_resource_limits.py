"""Resource limits (OWASP API4): bodies, pages, login attempts and task run time are all bounded."""
from __future__ import annotations

from dataclasses import replace

import pytest
import requests
from celery import Celery
from sqlalchemy import text

from dcoe.config import Settings
from live import gunicorn

PROBLEM = "application/problem+json"
HEADER = b"case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority,region\n"


def _stored(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM uploads), "
                                 "(SELECT count(*) FROM upload_chunks)")).one()


def _rows(n: int) -> bytes:
    return HEADER + b"".join(b"L-%07d,HDFC,Asha Rao,1000.00,100.00,10,Low,North\n" % i for i in range(n))


@pytest.mark.slow
def test_an_upload_over_max_upload_bytes_is_413_whether_or_not_it_announces_its_length(settings, make_user, engine):
    limit = 64 * 1024
    body = _rows(2_000)  # about 100 KiB
    assert len(body) > limit
    admin = make_user("admin")
    with gunicorn(settings, workers=1, MAX_UPLOAD_BYTES=limit, UPLOAD_CHUNK_BYTES=16 * 1024) as base:
        token = requests.post(f"{base}/api/auth/login", json={"email": admin.email, "password": "password123"},
                              timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
        announced = requests.post(f"{base}/api/cases/upload", data=body, headers=headers, timeout=30)
        # a chunked body has no Content-Length: the limit is enforced while it streams in
        streamed = requests.post(f"{base}/api/cases/upload", headers=headers, timeout=30,
                                 data=(body[i:i + 8192] for i in range(0, len(body), 8192)))
        assert [(r.status_code, r.headers["Content-Type"]) for r in (announced, streamed)] == [(413, PROBLEM)] * 2
        assert _stored(engine) == (0, 0, 0)  # not a chunk of either was kept
        fits = requests.post(f"{base}/api/cases/upload", data=body[:limit - 100], headers=headers, timeout=30)
        assert fits.status_code == 202


def test_a_json_body_is_capped_far_below_the_upload_limit(client, make_user, settings):
    """Only uploads may be large: a login or a status change does not buffer megabytes."""
    admin = make_user("admin")
    huge = {"email": admin.email, "password": "password123", "padding": "x" * (2 * 1024 * 1024)}
    response = client.post("/api/auth/login", json=huge)
    assert (response.status_code, response.content_type) == (413, PROBLEM)
    assert settings.max_upload_bytes > 2 * 1024 * 1024  # uploads of that size still go through
    assert client.post("/api/auth/login", json={"email": admin.email, "password": "password123"}).status_code == 200


def _paged_routes(app) -> list[str]:
    """Every GET route whose query arguments include `limit`."""
    routes = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        function = getattr(view.view_class, "get", None) if hasattr(view, "view_class") else view
        for argument in getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            if argument["in"] == "query" and "limit" in argument["schema"]().fields:
                routes.append(rule.rule)
    return routes


def test_every_listing_caps_its_page_at_500(app, client, admin_headers, make_case):
    routes = _paged_routes(app)
    assert {"/api/cases", "/api/jobs", "/api/users", "/api/cases/<int:case_id>/payments"} <= set(routes)
    case_pk = make_case()  # the sub-lists of one case: a case that exists
    answers = {route: [client.get(route.replace("<int:case_id>", str(case_pk)), query_string={"limit": limit},
                                  headers=admin_headers).status_code
                       for limit in (500, 501, 10**9)] for route in routes}
    assert answers == {route: [200, 400, 400] for route in routes}


@pytest.mark.slow
def test_the_login_rate_limit_is_shared_by_every_web_process(settings, make_user):
    """Counted in Redis, not per process: two gunicorn workers do not double the attempts allowed."""
    user = make_user("admin")
    with gunicorn(settings, workers=2, LOGIN_RATE_LIMIT="5 per minute") as base:
        answers = [requests.post(f"{base}/api/auth/login", json={"email": user.email, "password": "wrong-password"},
                                 timeout=10) for _ in range(9)]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 4
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers[5:])
    assert answers[-1].headers["Content-Type"] == PROBLEM


def test_tasks_have_time_limits_and_their_messages_outlive_them(monkeypatch):
    from worker.celery_app import create_celery

    assert Settings().task_time_limit_seconds == 3600
    monkeypatch.setenv("TASK_TIME_LIMIT_SECONDS", "120")
    settings = replace(Settings.from_env(), database_url="postgresql+psycopg:///unused", redis_url="redis://unused")
    conf = create_celery(settings).conf
    assert conf.task_time_limit == 120  # a runaway task's process is killed, its job retried or failed
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit  # first a catchable warning
    # an unacknowledged message is handed out again only after the visibility timeout: it must be
    # longer than any task may run, or a slow job would be run twice at once
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (True, True, 1)


def test_a_running_worker_applies_the_time_limits(settings, worker):
    replies = Celery(broker=settings.redis_url).control.inspect(timeout=5).conf() or {}
    limits = {node: (conf["task_time_limit"], conf["task_soft_time_limit"]) for node, conf in replies.items()}
    assert limits and all(hard == settings.task_time_limit_seconds and 0 < soft < hard
                          for hard, soft in limits.values()), limits

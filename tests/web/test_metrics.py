"""/metrics: scraped as Prometheus would (with its bearer token), its figures read from PostgreSQL and Redis."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from conftest import wait_for_job
from dcoe.servers import redis_client_url
from web import create_app
from web.metrics import queue_depths

BAD_ROWS = (b"BAD-1,HDFC,Some One,12x,100.00,5,High,North\n"  # not an amount
            b"BAD-2,HDFC,Some One,1000.00,100.00,5,Urgent,North\n")  # not a priority


def scrape(client) -> dict[tuple, float]:
    """{(sample name, (label, value), ...): value} of one scrape."""
    response = client.get("/metrics", headers=_bearer(client.application.extensions["dcoe"].settings.metrics_token))
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_metrics_with_the_token_are_plain_text_outside_the_api(client, settings):
    response = client.get("/metrics", headers=_bearer(settings.metrics_token))

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    assert "/metrics" not in client.get("/openapi.json").json["paths"]


@pytest.mark.parametrize("headers", [
    {},
    _bearer("wrong-token-of-the-same-length-000000000"),
    _bearer(""),
    {"Authorization": "Basic dGVzdDp0ZXN0"},
], ids=["no header", "wrong token", "empty token", "basic auth"])
def test_a_scrape_without_the_right_token_is_refused_as_problem_json(client, headers):
    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["status"] == 401 and "dcoe_" not in response.get_data(as_text=True)


def test_the_scheme_is_case_insensitive_as_http_says(client, settings):
    assert client.get("/metrics", headers={"Authorization": f"bearer {settings.metrics_token}"}).status_code == 200


def test_with_no_metrics_token_configured_metrics_are_closed_to_everybody(settings, clean_db):
    closed = create_app(replace(settings, metrics_token=None)).test_client()

    for headers in ({}, _bearer(settings.metrics_token), _bearer("None")):
        response = closed.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert "METRICS_TOKEN is not set" in response.json["detail"]


def test_counters_move_after_an_upload(client, worker, admin_headers, gen_cases):
    before = scrape(client)
    body = gen_cases(40) + BAD_ROWS

    job = client.post("/api/cases/upload", data=body, headers={**admin_headers, "Content-Type": "text/csv"}).json
    assert wait_for_job(client, admin_headers, job["id"])["state"] == "succeeded"
    after = scrape(client)

    assert after[("dcoe_ingest_rows_total",)] - before[("dcoe_ingest_rows_total",)] == 40
    assert after[("dcoe_ingest_rejected_rows_total",)] - before[("dcoe_ingest_rejected_rows_total",)] == 2
    assert after[("dcoe_jobs", ("state", "succeeded"), ("type", "ingest"))] == 1
    assert after[("dcoe_jobs", ("state", "queued"), ("type", "ingest"))] == 0
    assert after[("dcoe_job_duration_seconds_count", ("state", "succeeded"), ("type", "ingest"))] == 1
    upload = ("dcoe_http_request_duration_seconds_count", ("method", "POST"), ("route", "/api/cases/upload"),
              ("status", "202"))
    assert upload not in before and after[upload] == 1
    assert after[("dcoe_dependency_up", ("dependency", "postgresql"))] == 1
    assert after[("dcoe_dependency_up", ("dependency", "redis"))] == 1


def test_http_latency_is_labelled_by_route_not_by_path(client, admin_headers):
    for _ in range(2):
        assert client.get(f"/api/jobs/{uuid.uuid4()}", headers=admin_headers).status_code == 404

    samples = scrape(client)

    route = ("method", "GET"), ("route", "/api/jobs/<uuid:job_id>"), ("status", "404")
    assert samples[("dcoe_http_request_duration_seconds_count", *route)] == 2
    assert samples[("dcoe_http_request_duration_seconds_bucket", ("le", "+Inf"), *route)] == 2
    assert not [key for key in samples if any("/api/jobs/" in str(v) and "<" not in str(v) for _k, v in key[1:])]


def test_queue_depth_counts_every_priority_list_of_a_queue(settings):
    client = redis_lib.Redis.from_url(redis_client_url(settings.redis_url))
    name = f"dcoe:test-queue-{uuid.uuid4().hex[:6]}"
    try:
        client.rpush(name, b"a", b"b")
        client.rpush(f"{name}\x06\x169", b"c")  # where kombu keeps messages of priority 9

        assert queue_depths(client, (name,)) == {name: 3}
    finally:
        client.delete(name, f"{name}\x06\x169")


def test_ready_reports_the_depth_of_each_queue(client):
    body = client.get("/health/ready").json

    assert set(body["queues"]) == {"default", "ingest"}
    assert all(isinstance(n, int) and n >= 0 for n in body["queues"].values())


@pytest.fixture
def app_without_database(settings, clean_db):
    return create_app(replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/nothing"))


def test_a_database_that_does_not_answer_is_reported_down_not_a_failed_scrape(app_without_database):
    samples = scrape(app_without_database.test_client())

    assert samples[("dcoe_dependency_up", ("dependency", "postgresql"))] == 0
    assert samples[("dcoe_dependency_up", ("dependency", "redis"))] == 1
    assert ("dcoe_queue_depth", ("queue", "ingest")) in samples

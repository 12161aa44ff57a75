"""The broker unreachable when the API starts work: never a 202 for work that will not happen.

Either the job is recorded and the reconciler hands it to the broker once it answers, or the
request is refused with a 503 and nothing is recorded.
"""
from __future__ import annotations

import socket
import time

import pytest
from celery import Celery

from faults.system import case_ids

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"


@pytest.fixture
def unreachable_broker(fault_app, monkeypatch):
    """The API's publisher pointed at a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    publisher = Celery("unreachable", broker=f"redis://127.0.0.1:{port}/0")
    publisher.conf.update(broker_connection_timeout=2,
                          broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2})
    monkeypatch.setattr(fault_app.extensions["dcoe"], "celery", publisher)


def test_a_job_the_broker_did_not_take_is_recorded_and_enqueued_by_the_reconciler(system, unreachable_broker,
                                                                                    gen_cases):
    body = gen_cases(300)
    began = time.monotonic()
    upload = system.client.post("/api/cases/upload", data=body, content_type="text/csv", headers=system.admin_headers)
    assign = system.client.post("/api/cases/assign", json={}, headers=system.admin_headers)
    assert time.monotonic() - began < 5  # the publisher gives up at once; the requests do not hang
    assert (upload.status_code, assign.status_code) == (202, 202)
    accepted = [upload.json["id"], assign.json["id"]]
    stored = system.sql("SELECT state::text, enqueued_at FROM jobs WHERE id = ANY(CAST(:ids AS uuid[]))", ids=accepted)
    assert sorted(stored) == [("queued", None), ("queued", None)]  # recorded, and known not to be in the broker

    system.worker()
    system.beat()
    for job_id in accepted:
        job = system.wait_for(job_id)
        assert (job["state"], job["attempts"]) == ("succeeded", 1), job
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(body))


def test_with_redis_down_the_api_answers_503_and_records_nothing(system):
    system.servers.stop_redis()
    try:
        began = time.monotonic()
        responses = [system.client.post("/api/cases/assign", json={}, headers=system.admin_headers),
                     system.client.post("/api/analytics/refresh", headers=system.admin_headers)]
        elapsed = time.monotonic() - began
    finally:
        system.servers.start_redis()
    # the revocation list of tokens lives in Redis: no request is let in unchecked
    assert [(r.status_code, r.content_type) for r in responses] == [(503, PROBLEM)] * 2
    assert all(r.headers.get("Retry-After") for r in responses)
    assert elapsed < 5
    assert system.sql("SELECT count(*) FROM jobs")[0][0] == 0
    # and once Redis is back, the same request goes through
    assert system.client.post("/api/cases/assign", json={}, headers=system.admin_headers).status_code == 202

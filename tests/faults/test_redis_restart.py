"""Redis restarted empty (no persistence) with jobs in its queues: the messages are gone, the jobs
are not — they are rows in PostgreSQL, and the reconciler hands them to the new Redis."""
from __future__ import annotations

import pytest

from conftest import eventually
from faults.system import case_ids

pytestmark = pytest.mark.slow


def _waiting(system) -> int:
    broker = system.servers.redis()
    return broker.llen("default") + broker.llen("ingest")


def test_jobs_queued_when_redis_restarts_empty_are_enqueued_again_by_the_reconciler(system, gen_cases):
    system.agents(call_center=1, field=1, legal=1)
    long_body, short_body = gen_cases(60_000), gen_cases(500, start=700_001)
    worker = system.worker("busy")  # one process: the jobs after the first wait in Redis
    running = system.upload(long_body)
    eventually(lambda: system.job(running)["progress_done"] > 0, 60, "the long ingest under way")
    queued = [system.upload(short_body), system.assign()]
    refresh = system.client.post("/api/analytics/refresh", headers=system.admin_headers)
    assert refresh.status_code == 202
    queued.append(refresh.json["id"])
    assert _waiting(system) >= 3

    system.servers.restart_redis()
    assert _waiting(system) == 0  # every message is lost
    system.beat()

    assert system.wait_for(running)["state"] == "succeeded"  # it ran on through the restart
    for job_id in queued:
        job = system.wait_for(job_id)
        assert (job["state"], job["attempts"]) == ("succeeded", 1), job
    # the API publishes to the new Redis as well
    after = system.upload(gen_cases(100, start=800_001))
    assert system.wait_for(after)["state"] == "succeeded"
    assert worker.poll() is None  # the worker reconnected rather than died
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(long_body) | case_ids(short_body)
                            | case_ids(gen_cases(100, start=800_001)))

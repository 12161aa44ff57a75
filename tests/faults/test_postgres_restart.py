"""PostgreSQL restarted under the system: pooled connections are dead, none of them poisons a later
job (pool_pre_ping), and a job cut off mid-way is retried with nothing half-written."""
from __future__ import annotations

import pytest

from conftest import eventually
from faults.system import case_ids

pytestmark = pytest.mark.slow


def _refresh(system) -> str:
    response = system.client.post("/api/analytics/refresh", headers=system.admin_headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.json["id"]


def test_a_worker_idle_through_a_postgres_restart_runs_the_next_jobs(system):
    system.worker(concurrency=2)
    first = system.wait_for(_refresh(system))  # the pool processes now hold open connections
    assert first["state"] == "succeeded"

    system.servers.restart_postgres()

    for _ in range(3):  # more than one job, so that each pool process meets its dead connections
        job = system.wait_for(_refresh(system))
        assert (job["state"], job["attempts"]) == ("succeeded", 1), job
    assert "job crashed" not in system.log("worker")  # not one try ran into a dead connection
    system.settle()
    system.check_invariants()


def test_a_job_running_through_a_postgres_restart_is_retried_and_lands_once(system, gen_cases):
    body = gen_cases(100_000)
    system.worker()
    system.beat()
    job_id = system.upload(body)
    eventually(lambda: system.job(job_id)["progress_done"] > 0, 60, "the ingest under way")

    system.servers.restart_postgres()

    done = system.wait_for(job_id, timeout=240)
    assert done["state"] == "succeeded", done
    assert 2 <= done["attempts"] <= system.settings.job_max_attempts
    assert done["result"]["rows_inserted"] == 100_000
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(body))

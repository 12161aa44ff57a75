"""SIGKILL of a whole worker (master and pool) in the middle of a job: the job runs again
elsewhere, and what it wrote lands exactly once.

A killed worker never acknowledges its message, and with Redis an unacknowledged message comes
back only after the visibility timeout (over an hour): it is the reconciler, on beat, that sees
the job `running` with no live lock and hands it to the broker again.

(The kill during the staging of an ingest is tests/integration/test_ingest_faults.py; here the
worker dies in the write phase, while PostgreSQL is changing the cases.)
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from conftest import eventually
from faults.system import case_ids

pytestmark = pytest.mark.slow

ROWS = 200_000


def _kill_while_writing(system, job_id, worker) -> None:
    """Hold the cases table against writes until the job is blocked on it, then kill the worker."""
    with system.engine.connect() as blocker:
        with blocker.begin():
            # reads go on (an ingest stages and checks its rows, a run plans); writes wait
            blocker.execute(text("LOCK TABLE cases_processed IN SHARE ROW EXCLUSIVE MODE"))
            eventually(lambda: system.job(job_id)["state"] == "running", 120, "the job claimed")
            eventually(system.waiting_on_a_lock, 180, "the job waiting to write the cases")
            system.kill(worker)
    killed = system.job(job_id)
    assert (killed["state"], killed["attempts"]) == ("running", 1)  # it really died mid-way


def test_a_worker_killed_while_an_ingest_writes_its_cases_is_replaced_and_every_row_lands_once(system, gen_cases):
    body = gen_cases(ROWS)
    doomed = system.worker("doomed", queues="ingest")
    job_id = system.upload(body)
    _kill_while_writing(system, job_id, doomed)
    assert system.sql("SELECT count(*) FROM cases_processed")[0][0] == 0

    system.beat()
    system.worker("rescuer")
    done = system.wait_for(job_id, timeout=240)
    assert (done["state"], done["attempts"]) == ("succeeded", 2), done
    assert (done["result"]["rows_inserted"], done["result"]["rows_rejected"]) == (ROWS, 0)
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(body))


def test_a_worker_killed_during_an_assignment_run_is_replaced_and_each_case_is_assigned_once(system, gen_cases):
    agents = system.agents(call_center=3, field=2, legal=2)
    body = gen_cases(20_000)
    loader = system.worker("loader")
    assert system.wait_for(system.upload(body))["state"] == "succeeded"
    system.settle()  # the analytics refresh the ingest asked for, too
    system.kill(loader)

    doomed = system.worker("doomed", queues="default")
    job_id = system.assign()
    _kill_while_writing(system, job_id, doomed)
    assert system.sql("SELECT count(*) FROM case_assignments")[0][0] == 0

    system.beat()
    system.worker("rescuer")
    done = system.wait_for(job_id)
    assert (done["state"], done["attempts"]) == ("succeeded", 2), done
    assert done["result"]["assigned"] == 20_000
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(body))
    per_case, total, agents_used = system.sql(
        "SELECT count(DISTINCT case_pk), count(*), count(DISTINCT assigned_to) FROM case_assignments")[0]
    assert (per_case, total) == (20_000, 20_000)  # one assignment per case, none twice
    assert agents_used == len(agents)
    assert system.sql("SELECT count(*) FROM cases_processed WHERE assigned_to IS NULL")[0][0] == 0

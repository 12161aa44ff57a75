"""Poison jobs: work that fails the same way however often it is tried. It is tried a bounded
number of times (JOB_MAX_ATTEMPTS), then failed with the reason, and the worker goes on serving."""
from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import text

from faults.system import FINISHED, case_ids

pytestmark = pytest.mark.slow

HEADER = "case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority,region\n"
POISON = (HEADER + "".join(f"POISON-{n},HDFC,Borrower {n},1000.00,100.00,10,Low,North\n" for n in range(5))).encode()


@pytest.fixture
def poisoned_cases_table(system):
    """A database that refuses to store POISON-* cases: every attempt at them crashes in SQL."""
    statements = [
        """CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.case_id LIKE 'POISON-%' THEN RAISE EXCEPTION 'case % cannot be stored', NEW.case_id; END IF;
               RETURN NEW;
           END $$""",
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON cases_processed FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ]
    with system.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    yield
    with system.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER refuse_poison ON cases_processed")
        conn.exec_driver_sql("DROP FUNCTION refuse_poison()")


def test_a_job_that_crashes_its_task_every_time_fails_after_bounded_attempts_and_the_worker_goes_on(
        system, poisoned_cases_table, gen_cases):
    worker = system.worker()
    poisoned = system.upload(POISON)
    healthy_body = gen_cases(1_000)
    healthy = system.upload(healthy_body)

    done = system.wait_for(poisoned)
    assert (done["state"], done["attempts"]) == ("failed", system.settings.job_max_attempts), done
    assert done["error"]["title"] == "Internal error"
    assert "retried" in done["error"]["detail"]
    assert "POISON" not in done["error"]["detail"]  # the kind of error, not the database's words
    assert system.wait_for(healthy)["state"] == "succeeded"
    assert worker.poll() is None
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(healthy_body))


def test_a_job_whose_process_is_killed_at_the_same_point_every_time_is_failed_and_the_worker_goes_on(
        system, gen_cases):
    worker = system.worker()  # one master, one pool process
    system.beat()
    job_id = system.upload(gen_cases(50_000))

    killed_attempts = set()
    deadline = time.monotonic() + 180
    while (job := system.job(job_id))["state"] not in FINISHED:
        assert time.monotonic() < deadline, f"the poison job never finished: {job}"
        if job["state"] == "running" and job["progress_done"] > 0 and job["attempts"] not in killed_attempts:
            time.sleep(0.2)  # like the OOM killer, mid-way through every attempt
            for pid in system.children(worker):
                os.kill(pid, signal.SIGKILL)
            killed_attempts.add(job["attempts"])
        time.sleep(0.05)

    assert (job["state"], job["attempts"]) == ("failed", system.settings.job_max_attempts), job
    assert job["error"]["title"] == "Gave up"
    assert f"{system.settings.job_max_attempts} times" in job["error"]["detail"]
    assert killed_attempts == set(range(1, system.settings.job_max_attempts + 1))

    assert worker.poll() is None  # the same worker, with a fresh pool process, serves the next job
    healthy_body = gen_cases(200, start=900_001)
    assert system.wait_for(system.upload(healthy_body))["state"] == "succeeded"
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(healthy_body))

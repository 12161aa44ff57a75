"""SIGTERM (warm shutdown, what a deploy or `docker stop` sends): the worker finishes the job it
runs, takes no new one, and exits cleanly; the jobs behind it wait in the broker for the next."""
from __future__ import annotations

import os
import signal

import pytest

from conftest import eventually
from faults.system import case_ids

pytestmark = pytest.mark.slow


def test_a_worker_told_to_stop_finishes_its_ingest_and_leaves_the_next_job_queued(system, gen_cases):
    first_body, second_body = gen_cases(100_000), gen_cases(1_000, start=500_001)
    stopping = system.worker("stopping")
    first = system.upload(first_body)
    eventually(lambda: system.job(first)["progress_done"] > 0, 60, "the ingest under way")
    second = system.upload(second_body)

    os.kill(stopping.pid, signal.SIGTERM)  # the master alone, as a process manager does
    assert stopping.wait(180) == 0
    done = system.job(first)
    assert (done["state"], done["attempts"]) == ("succeeded", 1), done
    assert done["result"]["rows_inserted"] == 100_000
    waiting = system.job(second)
    assert (waiting["state"], waiting["attempts"]) == ("queued", 0)

    # no beat here: the message itself is still in the broker, not re-sent by the reconciler
    system.worker("next")
    assert system.wait_for(second)["state"] == "succeeded"
    system.settle()
    system.check_invariants(expected_case_ids=case_ids(first_body) | case_ids(second_body))

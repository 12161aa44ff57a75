"""Two beat processes at once (a deploy overlapping, a second replica by mistake): each assignment
slot of ASSIGN_INTERVAL_SECONDS still produces exactly one run."""
from __future__ import annotations

import time

import pytest

from conftest import eventually
from faults.system import case_ids

pytestmark = pytest.mark.slow

INTERVAL = 2
FIRINGS = 4
BEATS = ("beat-a", "beat-b")


def _fired(system) -> list[int]:
    """How often each beat has sent the assignment entry so far (from its own log)."""
    return [system.log(name).count("Sending due task assign-cases") for name in BEATS]


def test_two_beats_at_once_start_one_assignment_run_per_slot(system, gen_cases):
    system.agents(call_center=2, field=2, legal=1)
    system.worker(concurrency=2)
    bodies = [gen_cases(2_000)]
    assert system.wait_for(system.upload(bodies[0]))["state"] == "succeeded"

    beats = [system.beat(name, ASSIGN_INTERVAL_SECONDS=INTERVAL) for name in BEATS]
    arriving = []
    for n in range(2):  # cases keep arriving while the beats run
        time.sleep(INTERVAL)
        bodies.append(gen_cases(200, start=100_001 + 1_000 * n))
        arriving.append(system.upload(bodies[-1]))
    assert [system.wait_for(job_id)["state"] for job_id in arriving] == ["succeeded"] * 2
    enough = max(FIRINGS, *_fired(system)) + 2  # whole slots after the last cases arrived
    eventually(lambda: min(_fired(system)) >= enough, 60, f"both beats firing {enough} times")
    for beat in beats:
        system.kill(beat)
    fired = _fired(system)

    system.settle()
    runs = system.sql("SELECT idempotency_key, count(*) FROM jobs WHERE type = 'assign' AND created_by IS NULL "
                      "GROUP BY idempotency_key")
    assert all(count == 1 for _, count in runs), runs
    # both beats fired in every slot; without the slot's key there would be a run per firing
    assert 2 <= len(runs) <= max(fired) + 1, (runs, fired)
    expected = set().union(*map(case_ids, bodies))
    system.check_invariants(expected_case_ids=expected)
    assert system.sql("SELECT count(*) FROM cases_processed WHERE assigned_to IS NULL")[0][0] == 0
    assert system.sql("SELECT count(*), count(DISTINCT case_pk) FROM case_assignments")[0] == (len(expected),) * 2

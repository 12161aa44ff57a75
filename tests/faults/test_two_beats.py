"""Two beat processes at once (a deploy overlapping, a second replica by mistake): each assignment
slot of ASSIGN_INTERVAL_SECONDS still produces exactly one run."""
from __future__ import annotations

import time

import pytest

from faults.system import case_ids, eventually

pytestmark = pytest.mark.slow

INTERVAL = 2
SLOTS = 4


def _slots(system) -> list[tuple[str, int]]:
    return system.sql("SELECT idempotency_key, count(*) FROM jobs WHERE type = 'assign' AND created_by IS NULL "
                      "GROUP BY idempotency_key ORDER BY idempotency_key")


def test_two_beats_at_once_start_one_assignment_run_per_slot(system, gen_cases):
    system.agents(call_center=2, field=2, legal=1)
    system.worker(concurrency=2)
    bodies = [gen_cases(2_000)]
    assert system.wait_for(system.upload(bodies[0]))["state"] == "succeeded"

    beats = [system.beat(name, ASSIGN_INTERVAL_SECONDS=INTERVAL) for name in ("beat-a", "beat-b")]
    arriving = []
    for n in range(2):  # cases keep arriving while the beats run
        time.sleep(INTERVAL)
        bodies.append(gen_cases(200, start=100_001 + 1_000 * n))
        arriving.append(system.upload(bodies[-1]))
    assert [system.wait_for(job_id)["state"] for job_id in arriving] == ["succeeded"] * 2
    enough = max(SLOTS, len(_slots(system)) + 2)  # a whole slot after the last cases arrived
    eventually(lambda: len(_slots(system)) >= enough, 60, f"{enough} slots with a run")
    for beat in beats:
        system.kill(beat)

    system.settle()
    slots = _slots(system)
    assert all(runs == 1 for _, runs in slots), slots
    for name in ("beat-a", "beat-b"):  # both beats really fired, slot after slot
        assert system.log(name).count("Sending due task assign-cases") >= SLOTS - 1, name
    expected = set().union(*map(case_ids, bodies))
    system.check_invariants(expected_case_ids=expected)
    assert system.sql("SELECT count(*) FROM cases_processed WHERE assigned_to IS NULL")[0][0] == 0
    assert system.sql("SELECT count(*), count(DISTINCT case_pk) FROM case_assignments")[0] == (len(expected),) * 2

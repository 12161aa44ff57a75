"""The round-robin planner, with no database."""
from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from domain.assignment import (
    STATUS_ON_ASSIGNMENT,
    Candidate,
    Dealer,
    beat_slot_key,
    plan_assignment,
    plan_round_robin,
    result,
    resume_index,
    reverse_assignment_order,
)
from domain.cases import TRANSITIONS, CaseStatus
from domain.routing import DEFAULT_BANDS, Band
from domain.users import Team


def case(case_id: int, *, dpd: int = 10, priority: str = "Low", due: str = "100.00", status: str = "Pending"):
    return Candidate(case_id, dpd, priority, Decimal(due), status, 1)


def dealt(assignments) -> list[tuple[int, int]]:
    return [(a.case.id, a.agent_id) for a in assignments]


def test_cases_are_taken_by_priority_then_due_amount_then_id():
    cases = [
        case(1, priority="Low", due="900.00"),
        case(2, priority="Critical", due="10.00"),
        case(3, priority="High", due="50.00"),
        case(4, priority="High", due="70.00"),
        case(5, priority="Medium", due="999.99"),
        case(6, priority="High", due="70.00"),
        case(7, priority="Critical", due="10.00"),
    ]
    plan = plan_round_robin(cases, [100], start_after=None)
    assert [a.case.id for a in plan] == [2, 7, 4, 6, 3, 5, 1]


def test_due_amounts_compare_as_decimals_not_text():
    plan = plan_round_robin([case(1, due="9.99"), case(2, due="10.00"), case(3, due="100.00")], [7], start_after=None)
    assert [a.case.id for a in plan] == [3, 2, 1]


def test_first_run_deals_in_agent_id_order_from_the_lowest():
    plan = plan_round_robin([case(i) for i in range(1, 6)], [30, 10, 20], start_after=None)
    assert dealt(plan) == [(1, 10), (2, 20), (3, 30), (4, 10), (5, 20)]


def test_rotation_continues_after_last_run():
    first = plan_round_robin([case(1), case(2)], [10, 20, 30], start_after=None)
    second = plan_round_robin([case(3), case(4)], [10, 20, 30], start_after=first[-1].agent_id)
    assert [a.agent_id for a in first + second] == [10, 20, 30, 10]


def test_rotation_resumes_at_the_next_higher_id_when_the_last_agent_is_gone():
    assert [a.agent_id for a in plan_round_robin([case(1), case(2)], [10, 30, 40], start_after=20)] == [30, 40]


def test_rotation_wraps_to_the_first_agent_after_the_highest_id():
    assert resume_index([10, 20, 30], 30) == 0
    assert resume_index([10, 20, 30], 99) == 0
    assert resume_index([10, 20, 30], 5) == 0
    assert resume_index([10, 20, 30], 10) == 1


def test_a_team_without_agents_gets_no_assignment():
    assert plan_round_robin([case(1)], [], start_after=None) == []


@pytest.mark.parametrize(("dpd", "team"), [(0, Team.CALL_CENTER), (30, Team.CALL_CENTER), (31, Team.FIELD),
                                           (90, Team.FIELD), (91, Team.LEGAL), (5000, Team.LEGAL)])
def test_band_edges_route_each_case_to_its_team(dpd, team):
    agents = {Team.CALL_CENTER: [1], Team.FIELD: [2], Team.LEGAL: [3]}
    plan = plan_assignment([case(1, dpd=dpd)], agents, {}, DEFAULT_BANDS)
    assert list(plan.assignments) == [team]
    assert plan.assignments[team][0].agent_id == agents[team][0]


def test_cases_follow_the_current_bands_not_the_defaults():
    bands = [Band(Team.CALL_CENTER, 10), Band(Team.LEGAL, None)]
    agents = {Team.CALL_CENTER: [1], Team.FIELD: [2], Team.LEGAL: [3]}
    plan = plan_assignment([case(1, dpd=10), case(2, dpd=11), case(3, dpd=60)], agents, {}, bands)
    assert {team: [a.case.id for a in p] for team, p in plan.assignments.items()} == {
        Team.CALL_CENTER: [1], Team.LEGAL: [2, 3]}


def test_a_team_without_agents_is_reported_and_the_others_are_served():
    agents = {Team.CALL_CENTER: [1, 2], Team.LEGAL: [3]}
    cases = [case(1, dpd=5), case(2, dpd=40), case(3, dpd=45), case(4, dpd=200), case(5, dpd=6)]
    plan = plan_assignment(cases, agents, {}, DEFAULT_BANDS)
    assert plan.left_unassigned == {Team.FIELD: 2}
    assert dealt(plan.assignments[Team.CALL_CENTER]) == [(1, 1), (5, 2)]
    assert dealt(plan.assignments[Team.LEGAL]) == [(4, 3)]
    assert plan.last_agents == {Team.CALL_CENTER: 2, Team.LEGAL: 3}
    assert plan.size == 3


def test_each_team_resumes_its_own_rotation():
    agents = {Team.CALL_CENTER: [1, 2, 3], Team.FIELD: [4, 5]}
    plan = plan_assignment([case(1, dpd=1), case(2, dpd=50)], agents, {Team.CALL_CENTER: 2, Team.FIELD: 5},
                           DEFAULT_BANDS)
    assert dealt(plan.assignments[Team.CALL_CENTER]) == [(1, 3)]
    assert dealt(plan.assignments[Team.FIELD]) == [(2, 4)]


def test_one_case_per_run_over_seven_runs_goes_three_two_two():
    agents, last, given = [10, 20, 30], None, Counter()
    for run in range(7):
        (assignment,) = plan_round_robin([case(run)], agents, start_after=last)
        given[assignment.agent_id] += 1
        last = assignment.agent_id
    assert given == {10: 3, 20: 2, 30: 2}


def test_counts_differ_by_at_most_one_across_runs_of_any_size():
    rnd = random.Random(7)
    agents, last, given, next_id = [3, 8, 15, 16, 42], None, Counter(), 0
    for _run in range(200):
        cases = [case(next_id + k, priority=rnd.choice(["Low", "Critical"])) for k in range(rnd.randint(0, 9))]
        next_id += len(cases)
        plan = plan_round_robin(cases, agents, start_after=last)
        given.update(a.agent_id for a in plan)
        last = plan[-1].agent_id if plan else last
    assert max(given.values()) - min(given.values()) <= 1


def test_fairness_holds_again_after_the_agent_set_changes():
    agents, last = [1, 2, 3], None
    for _run in range(4):
        last = plan_round_robin([case(0), case(1)], agents, start_after=last)[-1].agent_id
    agents = [2, 3, 4, 5]  # agent 1 left, 4 and 5 joined
    since_change: Counter = Counter()
    for run in range(9):
        plan = plan_round_robin([case(k) for k in range(run % 3 + 1)], agents, start_after=last)
        since_change.update(a.agent_id for a in plan)
        last = plan[-1].agent_id
    assert set(since_change) == {2, 3, 4, 5}
    assert max(since_change.values()) - min(since_change.values()) <= 1


def test_result_counts_per_team_and_agent_and_names_teams_left_out():
    counts = Counter({(Team.CALL_CENTER, 12): 2, (Team.CALL_CENTER, 3): 1, (Team.LEGAL, 7): 4})
    assert result(counts, {Team.FIELD: 5}, dry_run=True) == {
        "assigned": 7,
        "by_team": {"call_center": 3, "legal": 4},
        "by_agent": {"3": 1, "7": 4, "12": 2},
        "left_unassigned": {"field": 5},
        "dry_run": True,
    }


def test_plan_counts_match_the_dealt_cases():
    agents = {Team.CALL_CENTER: [1, 2]}
    plan = plan_assignment([case(k, dpd=3) for k in range(5)], agents, {}, DEFAULT_BANDS)
    assert plan.counts() == Counter({(Team.CALL_CENTER, 1): 3, (Team.CALL_CENTER, 2): 2})


def test_a_run_dealt_in_batches_deals_as_one_plan_of_the_whole():
    rng = random.Random(7)
    cases = [case(k, dpd=rng.choice([3, 45, 200]), priority=rng.choice(["Low", "Medium", "High", "Critical"]),
                  due=f"{rng.randint(1, 50)}.00") for k in range(1, 400)]
    agents = {Team.CALL_CENTER: [1, 2, 3], Team.LEGAL: [7, 8]}
    rotation = {Team.CALL_CENTER: 2, Team.LEGAL: None}
    whole = plan_assignment(cases, agents, rotation, DEFAULT_BANDS)
    dealer = Dealer(agents, rotation, DEFAULT_BANDS)
    ordered = sorted(cases, key=reverse_assignment_order, reverse=True)
    batches = [dealer.deal(ordered[k:k + 37]) for k in range(0, len(ordered), 37)]
    for team in (Team.CALL_CENTER, Team.LEGAL):
        assert [a for batch in batches for a in batch.get(team, [])] == whole.assignments[team]
    assert dict(dealer.left_unassigned) == whole.left_unassigned and whole.left_unassigned[Team.FIELD] > 0
    assert dealer.last_agents == whole.last_agents


def test_the_dealer_refuses_cases_out_of_the_contract_order():
    dealer = Dealer({Team.CALL_CENTER: [1]}, {}, DEFAULT_BANDS)
    dealer.deal([case(1, priority="Critical"), case(2, priority="High")])
    with pytest.raises(ValueError, match="case 3"):
        dealer.deal([case(3, priority="Critical")])  # a later batch cannot go back to Critical
    with pytest.raises(ValueError, match="case 4"):
        Dealer({}, {}, DEFAULT_BANDS).deal([case(5, due="10.00"), case(4, due="10.00")])  # same rank: id order


def test_beat_firings_within_one_interval_share_a_slot():
    assert beat_slot_key(600.0, 300) == beat_slot_key(899.9, 300) == "beat-assign-2"
    assert beat_slot_key(900.0, 300) != beat_slot_key(899.9, 300)


def test_assignment_moves_a_case_only_along_the_workflow():
    for before, after in STATUS_ON_ASSIGNMENT.items():
        assert after in TRANSITIONS[before]
    assert set(STATUS_ON_ASSIGNMENT) == {CaseStatus.PENDING}

"""Assignment: the round-robin planner (pure) and the use cases of a run and of the routing bands.

A run deals every open, unassigned case to an active agent of the team its days past due route it
to, in the contract's order, resuming each team's rotation where the previous run stopped. The
plan is computed here from plain tuples; `uow.assignment` applies it set-based.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import cycle
from typing import Iterable, NamedTuple, Sequence

from domain.cases import CaseStatus, Priority
from domain.jobs import Job, JobType, new_job, submit
from domain.routing import Band, route, validate_bands
from domain.users import Team


class Candidate(NamedTuple):
    """An open, unassigned case as read by the run (a tuple: a run may hold a million)."""

    id: int
    days_past_due: int
    priority: str
    due_amount: Decimal
    status: str
    version: int  # the apply skips a case whose version moved since it was read


class Assignment(NamedTuple):
    case: Candidate
    agent_id: int


@dataclass
class Plan:
    """Who gets what: the assignments per team, and each team's new rotation position."""

    assignments: dict[Team, list[Assignment]] = field(default_factory=dict)
    left_unassigned: dict[Team, int] = field(default_factory=dict)
    last_agents: dict[Team, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(len(team_plan) for team_plan in self.assignments.values())

    def counts(self) -> Counter:
        """Planned cases per (team, agent id)."""
        return Counter((team, a.agent_id) for team, team_plan in self.assignments.items() for a in team_plan)


# An assigned case starts being worked (a move of the workflow's TRANSITIONS table); only Pending
# moves: an unassigned Escalated or In Progress case keeps its status.
STATUS_ON_ASSIGNMENT = {CaseStatus.PENDING: CaseStatus.IN_PROGRESS}

_PRIORITY_RANK = {p.value: rank for rank, p in enumerate(Priority)}


def reverse_assignment_order(case: Candidate) -> tuple:
    """The contract's order, reversed: sorted(..., reverse=True) deals Critical first, then the highest
    due amount, then the lowest id. (No negated Decimals: a run may build a million keys.)"""
    return _PRIORITY_RANK[case.priority], case.due_amount, -case.id


def resume_index(agents: Sequence[int], start_after: int | None) -> int:
    """Where a rotation resumes: the first agent id above the last one served, wrapping to the first."""
    if start_after is None:
        return 0
    return bisect_right(agents, start_after) % len(agents)


def plan_round_robin(cases: Iterable[Candidate], agents: Iterable[int], *, start_after: int | None) -> list[Assignment]:
    """Deal one team's cases, in the contract's order, to its agents in id order, resuming after `start_after`."""
    agents = sorted(agents)
    if not agents:
        return []
    start = resume_index(agents, start_after)
    dealer = cycle(agents[start:] + agents[:start])
    ordered = sorted(cases, key=reverse_assignment_order, reverse=True)  # linear when they come ordered
    return [Assignment(case, agent) for case, agent in zip(ordered, dealer)]


def plan_assignment(candidates: Iterable[Candidate], agents: dict[Team, list[int]],
                    rotation: dict[Team, int | None], bands: Sequence[Band]) -> Plan:
    """Route every candidate by its current DPD, then deal each team's cases round-robin."""
    by_team: dict[Team, list[Candidate]] = defaultdict(list)
    team_of_dpd: dict[int, Team] = {}  # a million cases have a few hundred distinct DPDs
    for case in candidates:
        team = team_of_dpd.get(case.days_past_due)
        if team is None:
            team = team_of_dpd[case.days_past_due] = route(case.days_past_due, bands)
        by_team[team].append(case)
    plan = Plan()
    for team in Team:
        cases = by_team.pop(team, None)
        if not cases:
            continue
        if not agents.get(team):
            plan.left_unassigned[team] = len(cases)
            continue
        team_plan = plan_round_robin(cases, agents[team], start_after=rotation.get(team))
        plan.assignments[team] = team_plan
        plan.last_agents[team] = team_plan[-1].agent_id
    return plan


def result(counts: Counter, left_unassigned: dict[Team, int], *, dry_run: bool) -> dict:
    """The assign job's result from per-(team, agent) counts; teams and agents with none are omitted."""
    by_team: Counter = Counter()
    by_agent: Counter = Counter()
    for (team, agent_id), n in counts.items():
        by_team[team.value] += n
        by_agent[str(agent_id)] += n
    return {
        "assigned": sum(by_team.values()),
        "by_team": dict(sorted(by_team.items())),
        "by_agent": dict(sorted(by_agent.items(), key=lambda item: int(item[0]))),
        "left_unassigned": {team.value: n for team, n in left_unassigned.items()},
        "dry_run": dry_run,
    }


def run_assignment(job: Job, uow, progress) -> dict:
    """The assign job: plan every open unassigned case, then apply the plan in the job's transaction."""
    dry_run = bool(job.params.get("dry_run", False))
    store = uow.assignment
    store.serialize_runs()  # held until commit: runs and agent releases take turns
    candidates = store.candidates()
    progress.set_total(len(candidates))
    plan = plan_assignment(candidates, store.active_agents(), store.rotation(), store.bands())
    progress.advance(0, force=True)  # checkpoint: a cancel lands before anything is written
    if dry_run:
        return result(plan.counts(), plan.left_unassigned, dry_run=True)
    applied = store.apply(plan, STATUS_ON_ASSIGNMENT, by=job.created_by, job_id=job.id)
    store.save_rotation(plan.last_agents)
    progress.advance(sum(applied.values()), force=True)
    return result(applied, plan.left_unassigned, dry_run=False)


def request_assignment(uow, enqueue, *, dry_run: bool, created_by: int | None) -> Job:
    """Record an assign job and hand it to the workers."""
    job = new_job(JobType.ASSIGN, {"dry_run": dry_run}, created_by)
    uow.jobs.add(job)
    submit(uow, job, enqueue)
    return uow.jobs.get(job.id)


def beat_slot_key(now: float, interval_seconds: int) -> str:
    """The idempotency key of beat's run for the interval holding `now`: one job per slot."""
    return f"beat-assign-{int(now // interval_seconds)}"


def schedule_assignment(uow, enqueue, *, now: float, interval_seconds: int) -> Job | None:
    """Beat's run for the current slot; None when another beat process already started it."""
    job = new_job(JobType.ASSIGN, {"dry_run": False}, None)
    if not uow.jobs.add_once(job, beat_slot_key(now, interval_seconds)):
        uow.rollback()
        return None
    return submit(uow, job, enqueue)


def get_bands(uow) -> list[Band]:
    """The routing bands, in order."""
    return uow.assignment.bands()


def replace_bands(uow, bands: list[Band]) -> list[Band]:
    """Replace the routing bands; the next run routes open unassigned cases by them."""
    uow.assignment.replace_bands(validate_bands(bands))
    uow.commit()
    return uow.assignment.bands()

"""Assignment: the round-robin planner (pure) and the use cases of a run and of the routing bands.

A run deals every open, unassigned case to an active agent of the team its days past due route it
to, in the contract's order, resuming each team's rotation where the previous run stopped. The
plan is computed here from plain tuples; `uow.assignment` applies it set-based.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import cycle
from typing import TYPE_CHECKING, NamedTuple

from domain.cases import CaseStatus, Priority
from domain.events import CasesChanged
from domain.jobs import Enqueue, Job, JobType, new_job, submit
from domain.read_ahead import ReadAhead
from domain.routing import Band, route, validate_bands
from domain.users import Team

if TYPE_CHECKING:  # domain.stores speaks of candidates and assignments
    from domain.job_runner import Progress
    from domain.stores import AssignmentStore
    from domain.unit_of_work import UnitOfWork


class Candidate(NamedTuple):
    """An open, unassigned case as read by the run (a tuple: a run may hold a million)."""

    id: int
    days_past_due: int
    priority: str
    due_amount: Decimal
    status: str
    version: int  # the apply skips a case whose version moved since it was read
    locator: str = ""  # where the store read it (opaque here; the store finds the row by it)


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
        return planned_counts(self.assignments)


# An assigned case starts being worked (a move of the workflow's TRANSITIONS table); only Pending
# moves: an unassigned Escalated or In Progress case keeps its status.
STATUS_ON_ASSIGNMENT = {CaseStatus.PENDING: CaseStatus.IN_PROGRESS}

_PRIORITY_RANK = {p.value: rank for rank, p in enumerate(Priority)}
PRIORITIES_FIRST_TO_LAST = sorted(_PRIORITY_RANK, key=_PRIORITY_RANK.get, reverse=True)  # Critical first
_BATCH = 50_000  # candidates read and dealt at a time (each a cancel checkpoint)
# Dealt cases are written in sweeps, one UPDATE each, while the next ones are dealt. Each sweep
# walks the whole table (the contract's order is not the table's), so fewer, larger ones write
# less: a sweep takes whatever was dealt while the previous one ran, at least _SWEEP_MIN (the
# first one starts early) and at most _SWEEP_MAX (what waits for it stays in memory, as COPY data).
_SWEEP_MIN = 100_000
_SWEEP_MAX = 1_000_000


def reverse_assignment_order(case: Candidate) -> tuple:
    """The contract's order, reversed: sorted(..., reverse=True) deals Critical first, then the highest
    due amount, then the lowest id. (No negated Decimals: a run may build a million keys.)"""
    return _PRIORITY_RANK[case.priority], case.due_amount, -case.id


def resume_index(agents: Sequence[int], start_after: int | None) -> int:
    """Where a rotation resumes: the first agent id above the last one served, wrapping to the first."""
    if start_after is None:
        return 0
    return bisect_right(agents, start_after) % len(agents)


def rotation_from(agents: Iterable[int], start_after: int | None) -> Iterator[int]:
    """A team's agents in id order, endlessly, resuming after `start_after`."""
    agents = sorted(agents)
    start = resume_index(agents, start_after)
    return cycle(agents[start:] + agents[:start])


def plan_round_robin(cases: Iterable[Candidate], agents: Iterable[int], *, start_after: int | None) -> list[Assignment]:
    """Deal one team's cases, in the contract's order, to its agents in id order, resuming after `start_after`."""
    agents = list(agents)
    if not agents:
        return []
    ordered = sorted(cases, key=reverse_assignment_order, reverse=True)  # linear when they come ordered
    return [Assignment(case, agent) for case, agent in zip(ordered, rotation_from(agents, start_after))]


class Dealer:
    """Deals a run's cases: each routed by its current DPD, then round-robin within its team.

    The cases come in batches (a run streams a million), in the contract's order across batches;
    a case out of that order is refused rather than dealt out of turn.
    """

    def __init__(self, agents: dict[Team, list[int]], rotation: dict[Team, int | None], bands: Sequence[Band]):
        self._bands = bands
        self._team_of_dpd: dict[int, Team] = {}  # a million cases have a few hundred distinct DPDs
        self._rotations = {team: rotation_from(ids, rotation.get(team)) for team, ids in agents.items() if ids}
        self._last_key: tuple | None = None
        self.last_agents: dict[Team, int] = {}
        self.left_unassigned: Counter = Counter()

    def deal(self, cases: Iterable[Candidate]) -> dict[Team, list[Assignment]]:
        """The next batch's assignments per team; teams without an active agent are counted as left."""
        routed: dict[Team, list[Candidate]] = defaultdict(list)
        team_of_dpd = self._team_of_dpd
        last_key = self._last_key
        for case in cases:
            key = reverse_assignment_order(case)
            if last_key is not None and key >= last_key:
                raise ValueError(f"case {case.id} comes out of the contract's order")
            last_key = key
            team = team_of_dpd.get(case.days_past_due)
            if team is None:
                team = team_of_dpd[case.days_past_due] = route(case.days_past_due, self._bands)
            routed[team].append(case)
        self._last_key = last_key
        dealt: dict[Team, list[Assignment]] = {}
        for team, team_cases in routed.items():
            rotation = self._rotations.get(team)
            if rotation is None:
                self.left_unassigned[team] += len(team_cases)
                continue
            # the cases first: map stops at the last case before taking an agent for one more
            dealt[team] = list(map(Assignment, team_cases, rotation))
            self.last_agents[team] = dealt[team][-1].agent_id
        return dealt


def plan_assignment(candidates: Iterable[Candidate], agents: dict[Team, list[int]],
                    rotation: dict[Team, int | None], bands: Sequence[Band]) -> Plan:
    """The whole plan at once, for candidates in any order: route each by its DPD, deal each team round-robin."""
    dealer = Dealer(agents, rotation, bands)
    assignments = dealer.deal(sorted(candidates, key=reverse_assignment_order, reverse=True))
    return Plan(assignments, dict(dealer.left_unassigned), dealer.last_agents)


def planned_counts(assignments: dict[Team, list[Assignment]]) -> Counter:
    """Cases per (team, agent id)."""
    return Counter((team, a.agent_id) for team, team_plan in assignments.items() for a in team_plan)


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


def run_assignment(job: Job, uow: UnitOfWork, progress: Progress) -> dict:
    """The assign job: deal every open unassigned case and write the plan as it is dealt, in one transaction.

    The candidates are read, dealt and formatted in a thread; the plan is staged in PostgreSQL as
    it comes and written in sweeps while the next cases are dealt.
    """
    dry_run = bool(job.params.get("dry_run", False))
    store = uow.assignment
    store.serialize_runs()  # held until commit: runs and agent releases take turns
    dealer = Dealer(store.active_agents(), store.rotation(), store.bands())
    counts: Counter = Counter()
    done = staged = 0
    with store.candidates(_BATCH, PRIORITIES_FIRST_TO_LAST) as (total, batches):
        progress.set_total(total)
        progress.advance(0, force=True)  # checkpoint: a cancel lands before anything is written
        with ReadAhead(_dealt(batches, dealer, store, dry_run), depth=_SWEEP_MAX // _BATCH) as dealt:
            for size, planned in dealt:
                if dry_run:
                    counts += planned
                    done += size
                else:
                    store.stage(planned)
                    staged += size
                    if staged >= _SWEEP_MAX or (staged >= _SWEEP_MIN and not dealt.ready()):
                        counts += store.apply_staged(by=job.created_by, job_id=job.id)
                        done, staged = done + staged, 0
                progress.advance(done)  # also a cancel checkpoint
        if staged:
            counts += store.apply_staged(by=job.created_by, job_id=job.id)
            done += staged
    if not dry_run:
        store.save_rotation(dealer.last_agents)
        if sum(counts.values()):
            uow.record(CasesChanged("assignment"))
    progress.advance(done, force=True)
    return result(counts, dealer.left_unassigned, dry_run=dry_run)


def _dealt(batches: Iterable[list[Candidate]], dealer: Dealer, store: AssignmentStore,
           dry_run: bool) -> Iterator[tuple]:
    """(batch size, what it plans): per batch of candidates, the counts per (team, agent) of a dry
    run, or the data a run stages."""
    for batch in batches:
        assignments = dealer.deal(batch)
        yield len(batch), planned_counts(assignments) if dry_run else store.plan_data(assignments, STATUS_ON_ASSIGNMENT)


def request_assignment(uow: UnitOfWork, enqueue: Enqueue, *, dry_run: bool, created_by: int | None) -> Job:
    """Record an assign job and hand it to the workers."""
    job = new_job(JobType.ASSIGN, {"dry_run": dry_run}, created_by)
    uow.jobs.add(job)
    submit(uow, job, enqueue)
    return uow.jobs.get(job.id)


def beat_slot_key(now: float, interval_seconds: int) -> str:
    """The idempotency key of beat's run for the interval holding `now`: one job per slot."""
    return f"beat-assign-{int(now // interval_seconds)}"


def schedule_assignment(uow: UnitOfWork, enqueue: Enqueue, *, now: float, interval_seconds: int) -> Job | None:
    """Beat's run for the current slot; None when another beat process already started it."""
    job = new_job(JobType.ASSIGN, {"dry_run": False}, None)
    if not uow.jobs.add_once(job, beat_slot_key(now, interval_seconds)):
        uow.rollback()
        return None
    return submit(uow, job, enqueue)


def get_bands(uow: UnitOfWork) -> list[Band]:
    """The routing bands, in order."""
    return uow.assignment.bands()


def replace_bands(uow: UnitOfWork, bands: list[Band]) -> list[Band]:
    """Replace the routing bands; the next run routes open unassigned cases by them."""
    uow.assignment.replace_bands(validate_bands(bands))
    uow.record(CasesChanged("routing bands"))  # the summary counts cases by the team their DPD routes them to
    uow.commit()
    return uow.assignment.bands()

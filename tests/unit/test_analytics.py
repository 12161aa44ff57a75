"""The summary's figures folded from cells, and the refresh requests, with no database."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain import analytics
from domain.analytics import Agent, Cell, summarize
from domain.cases import CaseStatus
from domain.jobs import JobState, JobType
from domain.users import Team

from .fakes import FakeUnitOfWork as FakeUow

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
P, IP, R, E = CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.ESCALATED
CC, FIELD, LEGAL = Team.CALL_CENTER, Team.FIELD, Team.LEGAL


def cell(status, *, agent=None, team=CC, bucket="0-30", cases=1, due="0", recovered="0", timed=0, seconds="0"):
    return Cell(assigned_to=agent, status=status, team=team, bucket=bucket, cases=cases, due=Decimal(due),
                recovered=Decimal(recovered), timed=timed, resolution_seconds=Decimal(seconds))


def test_no_cases_gives_every_key_with_zeros_and_a_null_average():
    summary = summarize([], [], AS_OF)
    assert summary == {
        "as_of": "2026-03-01T12:00:00+00:00",
        "total_cases": 0,
        "by_status": {"Pending": 0, "In Progress": 0, "Resolved": 0, "Escalated": 0},
        "avg_resolution_days": None,
        "per_team": {key: {"open": 0, "total": 0} for key in ("call_center", "field", "legal", "unassigned")},
        "per_agent": [],
        "total_due_amount": "0.00",
        "total_recovered": "0.00",
        "recovery_rate": 0.0,
        "aging": {"0-30": 0, "31-60": 0, "61-90": 0, "91-180": 0, "181+": 0},
    }


def test_status_counts_add_cells_of_every_agent_team_and_bucket():
    cells = [cell(P, cases=3), cell(P, agent=7, team=FIELD, bucket="31-60", cases=2), cell(IP, agent=7, cases=4),
             cell(E, team=LEGAL, bucket="181+", cases=1), cell(R, agent=7, cases=5)]
    summary = summarize(cells, [], AS_OF)
    assert summary["by_status"] == {"Pending": 5, "In Progress": 4, "Resolved": 5, "Escalated": 1}
    assert summary["total_cases"] == 15


def test_average_resolution_is_in_days_over_resolved_cases_with_a_resolution_time():
    cells = [cell(R, cases=2, timed=2, seconds=str(86400 * 3)),  # 1 and 2 days
             cell(R, team=FIELD, cases=2, timed=1, seconds="43200"),  # one without resolved_at
             cell(IP, cases=1, timed=1, seconds=str(86400 * 100))]  # not Resolved: ignored
    assert summarize(cells, [], AS_OF)["avg_resolution_days"] == pytest.approx((3 + 0.5) / 3, abs=1e-12)


def test_recovered_sums_resolved_cases_only_and_the_rate_divides_by_everything_due():
    cells = [cell(R, due="100.10", recovered="60.05"), cell(IP, due="300.00", recovered="99.99"),
             cell(P, due="0.15")]
    summary = summarize(cells, [], AS_OF)
    assert summary["total_due_amount"] == "400.25"
    assert summary["total_recovered"] == "60.05"
    assert summary["recovery_rate"] == pytest.approx(60.05 / 400.25, rel=1e-12)


def test_resolved_with_nothing_recovered_keeps_money_at_zero_with_two_decimals():
    summary = summarize([cell(R, due="12.5", recovered="0", timed=1, seconds="86400")], [], AS_OF)
    assert (summary["total_due_amount"], summary["total_recovered"], summary["recovery_rate"]) == ("12.50", "0.00", 0.0)
    assert summary["avg_resolution_days"] == 1.0


def test_aging_counts_open_cases_only():
    cells = [cell(P, bucket="0-30", cases=2), cell(IP, bucket="91-180", cases=3), cell(E, bucket="181+", cases=1),
             cell(R, bucket="0-30", cases=10), cell(R, bucket="61-90", cases=4)]
    assert summarize(cells, [], AS_OF)["aging"] == {"0-30": 2, "31-60": 0, "61-90": 0, "91-180": 3, "181+": 1}


def test_per_team_counts_the_routed_team_and_unassigned_overlaps_the_teams():
    cells = [cell(P, team=CC, cases=2), cell(R, agent=1, team=CC, cases=3), cell(IP, agent=2, team=FIELD, cases=4),
             cell(R, team=LEGAL, cases=1), cell(E, team=LEGAL, cases=6)]
    assert summarize(cells, [], AS_OF)["per_team"] == {
        "call_center": {"open": 2, "total": 5},
        "field": {"open": 4, "total": 4},
        "legal": {"open": 6, "total": 7},
        "unassigned": {"open": 8, "total": 9},
    }


def test_per_agent_shows_idle_active_agents_and_hides_idle_inactive_ones():
    agents = [Agent(1, "Asha", CC, True), Agent(2, "Idle", FIELD, True), Agent(3, "Gone", LEGAL, False),
              Agent(4, "Gone with cases", LEGAL, False)]
    cells = [cell(IP, agent=1, cases=2), cell(E, agent=1, team=FIELD, cases=1), cell(R, agent=1, cases=4),
             cell(R, agent=4, team=LEGAL, cases=3)]
    assert summarize(cells, agents, AS_OF)["per_agent"] == [
        {"user_id": 1, "name": "Asha", "team": "call_center", "open": 3, "resolved": 4},
        {"user_id": 2, "name": "Idle", "team": "field", "open": 0, "resolved": 0},
        {"user_id": 4, "name": "Gone with cases", "team": "legal", "open": 0, "resolved": 3},
    ]


def test_per_agent_leaves_out_users_without_a_team_but_their_cases_still_count():
    summary = summarize([cell(R, agent=99, cases=2)], [Agent(1, "Asha", CC, True)], AS_OF)
    assert [a["user_id"] for a in summary["per_agent"]] == [1]
    assert summary["by_status"]["Resolved"] == 2


def test_per_agent_is_ordered_by_team_then_name_then_id():
    agents = [Agent(5, "zoe", LEGAL, True), Agent(4, "Bob", CC, True), Agent(3, "amy", FIELD, True),
              Agent(2, "Amy", CC, True), Agent(1, "Bob", CC, True)]
    assert [a["user_id"] for a in summarize([], agents, AS_OF)["per_agent"]] == [2, 1, 4, 3, 5]


def test_only_the_first_refresh_request_of_a_window_starts_a_job():
    claimed = set()

    def first_in_window(name, seconds):
        assert seconds == analytics.REFRESH_DEBOUNCE_SECONDS
        first = name not in claimed
        claimed.add(name)
        return first

    uow, enqueued = FakeUow(), []
    started = [analytics.debounced_refresh(uow, enqueued.append, first_in_window) for _ in range(1000)]
    jobs = [job for job in started if job is not None]
    assert len(jobs) == 1 and enqueued == jobs
    assert (jobs[0].type, jobs[0].state, jobs[0].created_by) == (JobType.ANALYTICS, JobState.QUEUED, None)
    assert uow.jobs.rows == {jobs[0].id: jobs[0]} and uow.commits >= 1


def test_a_requested_refresh_is_committed_before_it_is_enqueued():
    uow = FakeUow()
    seen_commits = []
    job = analytics.request_refresh(uow, lambda j: seen_commits.append(uow.commits), created_by=3)
    assert seen_commits == [1] and job.created_by == 3

"""The summary's figures folded from cells, the collecting figures of the window, and the refresh
requests, with no database."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain import analytics
from domain.analytics import (
    COLLECTING_WINDOW_DAYS,
    Agent,
    Cell,
    PaymentTotals,
    PromiseTotals,
    collecting_window,
    paid_in,
    promised_in,
    summarize,
)
from domain.cases import CaseStatus
from domain.jobs import JobState, JobType
from domain.payments import Payment, PaymentMethod
from domain.promises import Promise, PromiseStatus
from domain.users import Team

from .fakes import FakeUnitOfWork as FakeUow

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = AS_OF.date()
OPEN, KEPT, PARTIAL, BROKEN, CANCELLED = PromiseStatus
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
        "collecting": {"payments": {"count": 0, "amount": "0.00"},
                       "promises": {"open": 0, "kept": 0, "partial": 0, "broken": 0, "kept_rate": None},
                       "contacts": {"attempts": 0, "right_party": 0, "right_party_rate": None},
                       "holds": {"dispute": 0, "cease": 0, "bankruptcy": 0, "attorney": 0, "pause": 0},
                       "policy_violations": 0},
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


def payment(paid_on: date, amount="10.00", reversed_at: datetime | None = None) -> Payment:
    return Payment(id=1, case_pk=1, case_id="C-1", amount=Decimal(amount), paid_on=paid_on, reference="TX",
                   method=PaymentMethod.TRANSFER, created_by=None, created_at=AS_OF, reversed_at=reversed_at)


def promise(status: PromiseStatus, closed_at: datetime | None = None) -> Promise:
    return Promise(id=1, case_pk=1, case_id="C-1", amount=Decimal("10.00"), due_date=DAY, status=status,
                   paid=Decimal(0), created_by=None, created_at=AS_OF - timedelta(days=90), closed_at=closed_at)


def collecting(payments=analytics.NO_PAYMENTS, promises=analytics.NO_PROMISES) -> dict:
    return summarize([], [], AS_OF, payments=payments, promises=promises)["collecting"]


def test_the_window_is_the_thirty_days_ending_on_as_of_s_day_and_the_thirty_days_before_as_of():
    window = collecting_window(AS_OF)
    assert (window.first_day, window.last_day) == (date(2026, 1, 31), date(2026, 3, 1))
    assert (window.last_day - window.first_day).days + 1 == COLLECTING_WINDOW_DAYS == 30
    assert (window.start, window.end) == (datetime(2026, 1, 30, 12, 0, tzinfo=UTC), AS_OF)


def test_the_window_s_days_are_utc_days_whatever_the_zone_as_of_is_written_in():
    as_of = datetime(2026, 3, 1, 1, 0, tzinfo=timezone(timedelta(hours=5)))  # 28 Feb, 20:00 UTC
    assert collecting_window(as_of).last_day == date(2026, 2, 28)


def test_a_payment_paid_exactly_thirty_days_before_as_of_s_day_is_out_twenty_nine_days_before_is_in():
    window = collecting_window(AS_OF)
    days = {offset: DAY - timedelta(days=offset) for offset in (-1, 0, 1, 29, 30, 31)}
    totals = paid_in(window, [payment(day, amount=f"{offset + 2}.25") for offset, day in days.items()])
    assert totals == PaymentTotals(count=3, amount=Decimal("2.25") + Decimal("3.25") + Decimal("31.25"))
    assert [offset for offset, day in days.items() if window.has_day(day)] == [0, 1, 29]


def test_a_reversed_payment_does_not_count_even_paid_and_reversed_within_the_window():
    reversed_ = payment(DAY, "500.00", reversed_at=AS_OF - timedelta(hours=1))
    assert paid_in(collecting_window(AS_OF), [reversed_, payment(DAY, "40.10")]) == PaymentTotals(1, Decimal("40.10"))


def test_a_promise_closed_exactly_thirty_days_before_as_of_is_out_and_one_closed_at_as_of_is_in():
    start = AS_OF - timedelta(days=30)
    closed_at = [start - timedelta(microseconds=1), start, start + timedelta(microseconds=1), AS_OF,
                 AS_OF + timedelta(microseconds=1)]
    totals = promised_in(collecting_window(AS_OF), [promise(KEPT, at) for at in closed_at])
    assert totals == PromiseTotals(open=0, closed={KEPT: 2})


def test_open_promises_count_whenever_taken_and_closed_ones_count_by_how_they_closed():
    inside = AS_OF - timedelta(days=3)
    promises = [promise(OPEN), promise(OPEN), promise(KEPT, inside), promise(PARTIAL, inside),
                promise(BROKEN, inside), promise(BROKEN, inside), promise(CANCELLED, inside),
                promise(BROKEN, AS_OF - timedelta(days=45))]
    assert promised_in(collecting_window(AS_OF), promises) == PromiseTotals(
        open=2, closed={KEPT: 1, PARTIAL: 1, BROKEN: 2, CANCELLED: 1})


def test_the_collecting_figures_count_and_sum_payments_and_rate_the_promises_kept():
    figures = collecting(PaymentTotals(3, Decimal("350.5")),
                         PromiseTotals(open=4, closed={KEPT: 2, PARTIAL: 1, BROKEN: 0, CANCELLED: 5}))
    assert {k: figures[k] for k in ("payments", "promises")} == {
        "payments": {"count": 3, "amount": "350.50"},
        "promises": {"open": 4, "kept": 2, "partial": 1, "broken": 0, "kept_rate": 0.6667}}


def test_kept_rate_is_null_when_no_promise_closed_kept_partial_or_broken_in_the_window():
    for closed in ({}, {CANCELLED: 3}):
        figures = collecting(promises=PromiseTotals(open=7, closed=closed))["promises"]
        assert figures == {"open": 7, "kept": 0, "partial": 0, "broken": 0, "kept_rate": None}


def test_kept_rate_is_zero_only_when_promises_closed_and_none_was_kept():
    assert collecting(promises=PromiseTotals(0, {BROKEN: 2, PARTIAL: 1}))["promises"]["kept_rate"] == 0.0
    assert collecting(promises=PromiseTotals(0, {KEPT: 5}))["promises"]["kept_rate"] == 1.0


@pytest.mark.parametrize(("kept", "failed", "rate"), [(1, 31, 0.0313), (1, 2, 0.3333), (2, 1, 0.6667),
                                                      (1, 7, 0.125), (9999, 1, 0.9999), (99999, 1, 1.0)])
def test_kept_rate_has_four_decimals_rounded_half_up(kept, failed, rate):
    assert collecting(promises=PromiseTotals(0, {KEPT: kept, BROKEN: failed}))["promises"]["kept_rate"] == rate

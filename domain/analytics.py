"""Analytics: the collection summary, its figures defined once, computed as a background job.

The store aggregates the cases into *cells* — cases sharing an agent, a status, the team their
current DPD routes them to and an aging bucket — in one set-based pass; `summarize` folds the
cells into every figure of the contract:

- by_status: cases per status (all four, zeros included); total_cases: all cases.
- avg_resolution_days: mean over Resolved cases of (resolved_at − created_at), in days; null
  when no case is resolved. A reopened case is not Resolved, so it does not count.
- per_team[team]: cases routed to the team by their current DPD and the current routing bands
  (`total`), and those not Resolved (`open`); per_team["unassigned"]: the same two counts over
  cases with no agent (assigned_to null), whatever their team — `open` is the backlog the next
  assignment run takes.
- per_agent: every user with a team, active ones even with no case, inactive ones only while
  cases still name them; `open` / `resolved` count their cases by status.
- total_due_amount: sum of due_amount over all cases; total_recovered: sum of amount_recovered
  over Resolved cases; recovery_rate = total_recovered / total_due_amount (0 when nothing is due).
- aging: open cases per DPD bucket.
- collecting: the ledger and the promises over the last COLLECTING_WINDOW_DAYS to as_of (see
  `collecting_window`): payments not reversed paid in the window (count, amount); promises open
  now; promises closed kept / partial / broken in the window, and kept_rate = kept / (kept +
  partial + broken), null when none closed so (no data is not a rate of 0); contacts, holds and
  policy violations in the window (domain.contact_figures).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from domain.cases import OPEN_STATUSES, CaseStatus
from domain.contact_figures import ContactTotals, contact_figures
from domain.jobs import Enqueue, Job, JobType, new_job, submit
from domain.payments import Payment
from domain.promises import Promise, PromiseStatus
from domain.users import Team

if TYPE_CHECKING:  # domain.stores speaks of cells and agents
    from domain.job_runner import Progress
    from domain.unit_of_work import UnitOfWork

# (label, highest DPD in the bucket); None: unbounded. Buckets are consecutive from 0.
AGING_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-30", 30), ("31-60", 60), ("61-90", 90), ("91-180", 180), ("181+", None),
)
UNASSIGNED = "unassigned"
# A status change asks for a refresh that runs when this window closes; the window's other
# requests ride along, so a burst of a thousand updates costs one refresh per window.
REFRESH_DEBOUNCE_SECONDS = 5
REFRESH_SOON_NAME = "dcoe:analytics:refresh-soon"
# Old snapshots are only history; the dashboard reads the latest.
SNAPSHOT_RETENTION = timedelta(days=7)
# The collecting figures look back this many days from as_of (API.md: "the last 30 days").
COLLECTING_WINDOW_DAYS = 30
# A promise closed with one of these outcomes counts in kept_rate; a cancelled one does not.
PROMISE_OUTCOMES = (PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN)
RATE_PLACES = Decimal("0.0001")  # kept_rate: four decimals, rounded half up

_CENT = Decimal("0.01")
_SECONDS_PER_DAY = Decimal(86400)


@dataclass(frozen=True)
class Cell:
    """The cases sharing agent, status, routed team and aging bucket, with their sums."""

    assigned_to: int | None
    status: CaseStatus
    team: Team
    bucket: str
    cases: int
    due: Decimal
    recovered: Decimal
    timed: int  # cases with a resolved_at
    resolution_seconds: Decimal  # sum of resolved_at − created_at over those cases


@dataclass(frozen=True)
class Agent:
    user_id: int
    name: str
    team: Team
    active: bool


@dataclass(frozen=True)
class Window:
    """The last COLLECTING_WINDOW_DAYS to `end`, for timestamps and for calendar days alike.

    An instant counts when `start < t <= end`; a day (UTC) when `first_day <= d <= last_day`:
    the COLLECTING_WINDOW_DAYS days ending on as_of's day, which is included. The day exactly
    COLLECTING_WINDOW_DAYS before as_of's, like the instant exactly that long before, is out.
    """

    start: datetime
    end: datetime
    first_day: date
    last_day: date

    def has_instant(self, at: datetime) -> bool:
        return self.start < at <= self.end

    def has_day(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class PaymentTotals:
    """Payments not reversed, paid within a window: how many, how much."""

    count: int
    amount: Decimal


@dataclass(frozen=True)
class PromiseTotals:
    """Promises open now, and those closed within a window by how they closed."""

    open: int
    closed: dict[PromiseStatus, int]


NO_PAYMENTS = PaymentTotals(count=0, amount=Decimal(0))
NO_PROMISES = PromiseTotals(open=0, closed={})
NO_CONTACTS = ContactTotals()


def collecting_window(as_of: datetime) -> Window:
    """The window of the collecting figures: the last COLLECTING_WINDOW_DAYS to as_of."""
    last_day = as_of.astimezone(UTC).date()  # paid_on is a UTC calendar day (domain.payments)
    return Window(start=as_of - timedelta(days=COLLECTING_WINDOW_DAYS), end=as_of,
                  first_day=last_day - timedelta(days=COLLECTING_WINDOW_DAYS - 1), last_day=last_day)


def paid_in(window: Window, payments: Iterable[Payment]) -> PaymentTotals:
    """The payments the figures count: not reversed, paid on a day of the window.

    The rule; `store.analytics.payment_totals` is its set-based twin (tests hold one to the other).
    """
    counted = [p.amount for p in payments if p.reversed_at is None and window.has_day(p.paid_on)]
    return PaymentTotals(count=len(counted), amount=sum(counted, Decimal(0)))


def promised_in(window: Window, promises: Iterable[Promise]) -> PromiseTotals:
    """Promises open now, and those closed within the window by status (the rule; the store is its twin)."""
    promises = list(promises)
    closed = Counter(p.status for p in promises if p.closed_at is not None and window.has_instant(p.closed_at))
    return PromiseTotals(open=sum(p.status is PromiseStatus.OPEN for p in promises), closed=dict(closed))


def summarize(cells: list[Cell], agents: list[Agent], as_of: datetime, *,
              payments: PaymentTotals = NO_PAYMENTS, promises: PromiseTotals = NO_PROMISES,
              contacts: ContactTotals = NO_CONTACTS) -> dict:
    """Every figure of the summary, JSON-ready (money as strings with two decimals).

    `payments`, `promises` and `contacts` are the store's totals over `collecting_window(as_of)`.
    """
    resolved = [c for c in cells if c.status is CaseStatus.RESOLVED]
    open_cells = [c for c in cells if c.status in OPEN_STATUSES]
    unassigned = [c for c in cells if c.assigned_to is None]
    due = sum((c.due for c in cells), Decimal(0))
    recovered = sum((c.recovered for c in resolved), Decimal(0))
    timed = sum(c.timed for c in resolved)
    per_team = {team.value: _open_total([c for c in cells if c.team is team]) for team in Team}
    per_team[UNASSIGNED] = _open_total(unassigned)
    return {
        "as_of": as_of.isoformat(),
        "total_cases": _count(cells),
        "by_status": {s.value: _count(c for c in cells if c.status is s) for s in CaseStatus},
        "avg_resolution_days": (
            float(sum((c.resolution_seconds for c in resolved), Decimal(0)) / timed / _SECONDS_PER_DAY)
            if timed else None
        ),
        "per_team": per_team,
        "per_agent": _per_agent(cells, agents),
        "total_due_amount": _money(due),
        "total_recovered": _money(recovered),
        "recovery_rate": float(recovered / due) if due else 0.0,
        "aging": {label: _count(c for c in open_cells if c.bucket == label) for label, _ in AGING_BUCKETS},
        "collecting": {**_collecting(payments, promises), **contact_figures(contacts, _rate)},
    }


def _collecting(payments: PaymentTotals, promises: PromiseTotals) -> dict:
    outcomes = {status.value: promises.closed.get(status, 0) for status in PROMISE_OUTCOMES}
    return {
        "payments": {"count": payments.count, "amount": _money(payments.amount)},
        "promises": {"open": promises.open, **outcomes,
                     "kept_rate": _rate(outcomes[PromiseStatus.KEPT.value], sum(outcomes.values()))},
    }


def _rate(part: int, whole: int) -> float | None:
    """part / whole to RATE_PLACES, rounded half up; None when whole is 0 (no data, not a rate of 0)."""
    return float((Decimal(part) / Decimal(whole)).quantize(RATE_PLACES, ROUND_HALF_UP)) if whole else None


def _count(cells) -> int:
    return sum(c.cases for c in cells)


def _open_total(cells: list[Cell]) -> dict:
    return {"open": _count(c for c in cells if c.status in OPEN_STATUSES), "total": _count(cells)}


def _per_agent(cells: list[Cell], agents: list[Agent]) -> list[dict]:
    """Agents by team, then name; an inactive agent shows only while cases still name it."""
    open_by = {a.user_id: 0 for a in agents}
    resolved_by = dict(open_by)
    for c in cells:
        if c.assigned_to in open_by:
            tally = resolved_by if c.status is CaseStatus.RESOLVED else open_by
            tally[c.assigned_to] += c.cases
    teams = list(Team)
    shown = [a for a in agents if a.active or open_by[a.user_id] or resolved_by[a.user_id]]
    shown.sort(key=lambda a: (teams.index(a.team), a.name.casefold(), a.user_id))
    return [{"user_id": a.user_id, "name": a.name, "team": a.team.value,
             "open": open_by[a.user_id], "resolved": resolved_by[a.user_id]} for a in shown]


def _money(amount: Decimal) -> str:
    return str(amount.quantize(_CENT))


def refresh_summary(job: Job, uow: UnitOfWork, progress: Progress) -> dict:
    """Job handler: compute the summary, store it as the latest snapshot, return it."""
    progress.set_total(1)
    as_of = uow.jobs.now()  # the transaction's start: every change committed before it counts
    window = collecting_window(as_of)
    summary = summarize(uow.analytics.cells(uow.assignment.bands(), AGING_BUCKETS), uow.analytics.agents(), as_of,
                        payments=uow.analytics.payment_totals(window.first_day, window.last_day),
                        promises=uow.analytics.promise_totals(closed_after=window.start, closed_until=window.end),
                        contacts=uow.analytics.contact_totals(after=window.start, until=window.end))
    progress.advance(1, force=True)  # checkpoint: a refresh cancelled by now stores nothing
    uow.analytics.add_snapshot(summary, as_of=as_of, job_id=job.id)
    uow.analytics.prune_snapshots(before=as_of - SNAPSHOT_RETENTION)
    return summary


def latest_summary(uow: UnitOfWork) -> dict | None:
    """The most recent snapshot's summary; None before the first one is computed."""
    return uow.analytics.latest_summary()


def summary_or_first_refresh(uow: UnitOfWork, enqueue: Enqueue, *,
                             requested_by: int | None) -> tuple[dict | None, Job | None]:
    """The latest summary; before the first snapshot exists, the job computing it instead."""
    summary = latest_summary(uow)
    if summary is not None:
        return summary, None
    return None, ensure_refresh(uow, enqueue, created_by=requested_by)


def request_refresh(uow: UnitOfWork, enqueue: Enqueue, *, created_by: int | None) -> Job:
    """A new refresh job, committed and enqueued: it sees everything committed before it runs."""
    job = new_job(JobType.ANALYTICS, {}, created_by)
    uow.jobs.add(job)
    return submit(uow, job, enqueue)


def ensure_refresh(uow: UnitOfWork, enqueue: Enqueue, *, created_by: int | None) -> Job:
    """The refresh job already queued or running, else a new one (one at a time suffices)."""
    uow.analytics.lock_refresh_requests()  # two callers at once must not both start one
    pending_id = uow.analytics.unfinished_refresh_id()
    pending = uow.jobs.get(pending_id) if pending_id is not None else None
    return pending if pending is not None else request_refresh(uow, enqueue, created_by=created_by)


def debounced_refresh(uow: UnitOfWork, enqueue_later: Enqueue,
                      first_in_window: Callable[[str, int], bool]) -> Job | None:
    """Refresh soon: the first request of a window starts a job that runs as the window closes.

    `first_in_window(name, seconds)` is true for the first call naming `name` within `seconds`;
    `enqueue_later` delays the job by REFRESH_DEBOUNCE_SECONDS, counted after the window opened,
    so the job starts after the window closed and sees every change of the window: a change
    later than that opens the next window.
    """
    if not first_in_window(REFRESH_SOON_NAME, REFRESH_DEBOUNCE_SECONDS):
        return None
    return request_refresh(uow, enqueue_later, created_by=None)

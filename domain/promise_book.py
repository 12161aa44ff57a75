"""Promises to pay, the use cases: take one, cancel it, list a case's, and the promises job that
closes those past their due date and grace (the rules are domain.promises).

A promise is kept the moment the ledger counts enough toward it (domain.ledger); the job closes
the rest once `as_of` is past `due_date + grace_days`, and keeps any that reached their
threshold meanwhile (a lowered PROMISE_KEPT_PERCENT). It only ever touches open promises, so the
same `as_of` twice closes nothing twice.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from domain.case_queries import get_case, locked_case
from domain.cases import may_handle
from domain.errors import Conflict, Forbidden, NotFound
from domain.events import PromisesChanged
from domain.hold_book import lift_ended_pauses
from domain.holds import STOPS_PROMISES
from domain.jobs import Enqueue, Job, JobType, new_job, submit
from domain.promises import Promise, PromiseStatus, PromiseTerms, check_promise
from domain.viewer import Viewer

if TYPE_CHECKING:
    from domain.job_runner import Progress
    from domain.unit_of_work import UnitOfWork

# what the promises job reports, in this order
EVALUATED = (PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN)


def take_promise(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, amount: Decimal, due_date: date,
                 today: date, terms: PromiseTerms) -> Promise:
    """The borrower promises to pay `amount` by `due_date`; a case has at most one open promise."""
    case = locked_case(uow, case_pk, viewer)
    if case.promise is not None:
        raise _already_open(case_pk, case.promise.id)
    stopping = sorted(hold.type.value for hold in uow.holds.covering(case) if hold.type in STOPS_PROMISES)
    if stopping:
        raise Conflict(f"case {case_pk} is on hold ({', '.join(stopping)}): no promise may be taken",
                       {"_": [f"the case is on a {kind} hold" for kind in stopping]})
    check_promise(amount=amount, due_date=due_date, balance_due=case.balance, today=today, terms=terms)
    promise = uow.promises.add(case, amount=amount, due_date=due_date, by=viewer.user_id)
    if promise is None:  # promises_one_open_key: another one was taken since the case was read
        raise _already_open(case_pk, None)
    uow.record(PromisesChanged("taken"))
    uow.commit()
    return promise


def cancel_promise(uow: UnitOfWork, promise_id: int, viewer: Viewer, *, reason: str) -> Promise:
    """Cancel an open promise; one already closed (kept, partial, broken, cancelled) stays as it is."""
    found = uow.promises.get(promise_id)
    if found is None:
        raise NotFound(f"promise {promise_id} not found")
    case = uow.cases.get(found.case_pk, for_update=True)  # the case's lock: payments may be keeping it
    if not may_handle(viewer, case):
        raise Forbidden(f"the case of promise {promise_id} is not assigned to you")
    cancelled = uow.promises.cancel(promise_id, by=viewer.user_id, reason=reason)
    if cancelled is None:  # closed already, or by the promises job meanwhile
        status = uow.promises.get(promise_id).status.value
        raise Conflict(f"promise {promise_id} is already {status}", {"status": [f"already {status}"]})
    uow.record(PromisesChanged("cancelled"))
    uow.commit()
    return cancelled


def list_promises(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, after_id: int | None,
                  limit: int) -> list[Promise]:
    """The case's promises, oldest first, after the promise `after_id`; NotFound when the viewer
    may not see the case."""
    get_case(uow, case_pk, viewer)
    return uow.promises.list(case_pk, after_id=after_id, limit=limit)


def request_evaluation(uow: UnitOfWork, enqueue: Enqueue, *, as_of: date, created_by: int | None) -> Job:
    """A promises job deciding on `as_of`, committed and enqueued."""
    job = new_job(JobType.PROMISES, {"as_of": as_of.isoformat()}, created_by)
    uow.jobs.add(job)
    return submit(uow, job, enqueue)


def schedule_evaluation(uow: UnitOfWork, enqueue: Enqueue, *, now: float, interval_seconds: int) -> Job | None:
    """Beat's promises job for the interval holding `now`, deciding on that day (UTC); None when
    another beat process already started it."""
    as_of = datetime.fromtimestamp(now, UTC).date()
    job = new_job(JobType.PROMISES, {"as_of": as_of.isoformat()}, None)
    if not uow.jobs.add_once(job, f"beat-promises-{int(now // interval_seconds)}"):
        uow.rollback()
        return None
    return submit(uow, job, enqueue)


def evaluate_promises(job: Job, uow: UnitOfWork, progress: Progress, *, terms: PromiseTerms) -> dict:
    """Job handler: close the open promises that `as_of` decides (domain.promises.state_of), set-based."""
    as_of = date.fromisoformat(job.params["as_of"])
    progress.set_total(1)
    closed = uow.promises.close_decided(as_of, grace_days=terms.grace_days, kept_percent=terms.kept_percent)
    lift_ended_pauses(uow, as_of)  # a pause lasts through its `until` day
    progress.advance(1, force=True)  # checkpoint: a job cancelled by now closes nothing
    if any(closed.values()):
        uow.record(PromisesChanged("evaluated"))
    return {status.value: closed.get(status, 0) for status in EVALUATED}


def _already_open(case_pk: int, promise_id: int | None) -> Conflict:
    which = f" (promise {promise_id})" if promise_id is not None else ""
    return Conflict(f"case {case_pk} already has an open promise{which}; cancel it or wait until it closes",
                    {"_": ["the case already has an open promise"]})

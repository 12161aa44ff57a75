"""The promise use cases and the promises job (domain/promise_book.py) against the in-memory unit of work."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain import promise_book
from domain.cases import CaseStatus
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.events import PromisesChanged
from domain.jobs import JobType
from domain.promises import PromiseStatus, PromiseTerms
from domain.viewer import Viewer

from .fakes import START, FakeUnitOfWork

D = Decimal
ADMIN = Viewer(user_id=1, is_admin=True)
AGENT = Viewer(user_id=7, is_admin=False)
OTHER_AGENT = Viewer(user_id=8, is_admin=False)
TODAY = START.date()
TERMS = PromiseTerms(max_days=30, grace_days=2, kept_percent=D(100))
DUE = TODAY + timedelta(days=5)


class Progress:
    """What a job handler reports, without the job runner's control connection."""

    def __init__(self):
        self.total, self.done = None, 0

    def set_total(self, total):
        self.total = total

    def advance(self, done, *, force=False):
        self.done = done


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def case(uow):
    return uow.given_case(CaseStatus.IN_PROGRESS, assigned_to=AGENT.user_id, due="1000.00")


def take(uow, case_pk, amount="300.00", due_date=DUE, viewer=AGENT):
    return promise_book.take_promise(uow, case_pk, viewer, amount=D(amount), due_date=due_date, today=TODAY,
                                     terms=TERMS)


def evaluate(uow, as_of, terms=TERMS):
    job = promise_book.request_evaluation(uow, lambda job: None, as_of=as_of, created_by=ADMIN.user_id)
    return promise_book.evaluate_promises(job, uow, Progress(), terms=terms)


def paid_toward(uow, promise_id, amount):
    """What the ledger leaves on an open promise after payments (its own rules are tested with the ledger)."""
    from dataclasses import replace

    uow.tables.promises[promise_id] = replace(uow.tables.promises[promise_id], paid=D(amount))
    uow.commit()


def test_a_promise_is_taken_open_with_nothing_paid_and_shows_on_its_case(uow, case):
    promise = take(uow, case.id)
    assert (promise.status, promise.paid, promise.amount, promise.due_date, promise.created_by) == (
        PromiseStatus.OPEN, 0, D("300.00"), DUE, AGENT.user_id)
    assert uow.cases.get(case.id).promise == promise and uow.commits == 1


def test_a_second_open_promise_is_a_conflict(uow, case):
    take(uow, case.id)
    with pytest.raises(Conflict):
        take(uow, case.id, amount="10.00")
    assert len(uow.tables.promises) == 1


def test_a_new_promise_may_follow_one_that_closed(uow, case):
    first = take(uow, case.id)
    promise_book.cancel_promise(uow, first.id, AGENT, reason="borrower changed plans")
    assert take(uow, case.id).id == first.id + 1


@pytest.mark.parametrize(("amount", "days", "field"), [("1000.01", 5, "amount"), ("0.00", 5, "amount"),
                                                         ("10.00", -1, "due_date"), ("10.00", 31, "due_date")])
def test_a_promise_breaking_a_rule_is_refused_and_writes_nothing(uow, case, amount, days, field):
    with pytest.raises(InvalidInput) as refused:
        take(uow, case.id, amount, TODAY + timedelta(days=days))
    assert field in refused.value.errors and uow.tables.promises == {}


def test_an_agent_takes_promises_on_its_own_cases_only(uow, case):
    with pytest.raises(Forbidden):
        take(uow, case.id, viewer=OTHER_AGENT)
    with pytest.raises(NotFound):
        take(uow, 999)
    assert take(uow, case.id, viewer=ADMIN).created_by == ADMIN.user_id


def test_cancelling_closes_an_open_promise_once(uow, case):
    promise = take(uow, case.id)
    uow.advance(60)
    cancelled = promise_book.cancel_promise(uow, promise.id, AGENT, reason="wrong amount")
    assert (cancelled.status, cancelled.closed_at, cancelled.cancel_reason) == (PromiseStatus.CANCELLED, uow.now,
                                                                                "wrong amount")
    with pytest.raises(Conflict):
        promise_book.cancel_promise(uow, promise.id, AGENT, reason="again")
    with pytest.raises(NotFound):
        promise_book.cancel_promise(uow, 999, AGENT, reason="none")


def test_an_agent_cancels_promises_on_its_own_cases_only(uow, case):
    promise = take(uow, case.id)
    with pytest.raises(Forbidden):
        promise_book.cancel_promise(uow, promise.id, OTHER_AGENT, reason="not mine")
    assert promise_book.cancel_promise(uow, promise.id, ADMIN, reason="admin").status is PromiseStatus.CANCELLED


def test_the_job_closes_promises_only_after_due_date_and_grace_partial_or_broken(uow):
    cases = [uow.given_case(CaseStatus.IN_PROGRESS, assigned_to=AGENT.user_id) for _ in range(3)]
    broken, partial, _on_grace = (take(uow, c.id) for c in cases)
    paid_toward(uow, partial.id, "0.01")
    assert evaluate(uow, DUE + timedelta(days=2)) == {"kept": 0, "partial": 0, "broken": 0}  # due + grace itself
    assert evaluate(uow, DUE + timedelta(days=3)) == {"kept": 0, "partial": 1, "broken": 2}
    assert [uow.promises.get(p.id).status for p in (broken, partial)] == [PromiseStatus.BROKEN, PromiseStatus.PARTIAL]


def test_the_same_as_of_twice_closes_nothing_twice(uow, case):
    take(uow, case.id)
    as_of = DUE + timedelta(days=3)
    assert evaluate(uow, as_of) == {"kept": 0, "partial": 0, "broken": 1}
    closed_at = uow.promises.get(1).closed_at
    uow.advance(60)
    assert evaluate(uow, as_of) == {"kept": 0, "partial": 0, "broken": 0}
    assert uow.promises.get(1).closed_at == closed_at


def test_the_job_keeps_a_promise_that_reached_a_lowered_threshold_before_its_due_date(uow, case):
    promise = take(uow, case.id)
    paid_toward(uow, promise.id, "240.00")
    assert evaluate(uow, TODAY, PromiseTerms(kept_percent=D(80))) == {"kept": 1, "partial": 0, "broken": 0}


def test_a_promises_job_records_its_as_of_and_beat_starts_one_per_interval(uow):
    job = promise_book.request_evaluation(uow, lambda job: None, as_of=DUE, created_by=ADMIN.user_id)
    assert (job.type, job.params, job.created_by) == (JobType.PROMISES, {"as_of": DUE.isoformat()}, ADMIN.user_id)
    now = START.timestamp()
    sent = []
    first = promise_book.schedule_evaluation(uow, sent.append, now=now, interval_seconds=3600)
    assert first.params == {"as_of": TODAY.isoformat()} and first.created_by is None
    assert promise_book.schedule_evaluation(uow, sent.append, now=now + 1, interval_seconds=3600) is None
    assert promise_book.schedule_evaluation(uow, sent.append, now=now + 3600, interval_seconds=3600) is not None
    assert [j.id for j in sent][0] == first.id and len(sent) == 2


def test_a_cases_promises_are_listed_oldest_first_to_those_who_may_see_it(uow, case):
    first = take(uow, case.id)
    promise_book.cancel_promise(uow, first.id, AGENT, reason="x")
    second = take(uow, case.id)
    assert [p.id for p in promise_book.list_promises(uow, case.id, AGENT, after_id=None, limit=5)] == [first.id,
                                                                                                       second.id]
    with pytest.raises(NotFound):
        promise_book.list_promises(uow, case.id, OTHER_AGENT, after_id=None, limit=5)


def test_taking_cancelling_and_closing_promises_publish_that_promises_changed_once_committed(uow):
    first, second = (uow.given_case(CaseStatus.IN_PROGRESS, assigned_to=AGENT.user_id) for _ in range(2))
    cancelled = take(uow, first.id)
    promise_book.cancel_promise(uow, cancelled.id, AGENT, reason="wrong amount")
    take(uow, second.id)
    evaluate(uow, DUE + timedelta(days=2))  # closes nothing
    assert uow.published == [PromisesChanged("taken"), PromisesChanged("cancelled"), PromisesChanged("taken")]
    evaluate(uow, DUE + timedelta(days=3))
    uow.commit()  # the job runner commits the handler's work with its result
    assert uow.published[-1] == PromisesChanged("evaluated")

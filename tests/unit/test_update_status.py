"""The update-status use case against the in-memory unit of work."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from domain import workflow
from domain.cases import CaseStatus, HistoryEntry, HistoryKind
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from domain.events import CasesChanged
from domain.payments import PaymentMethod
from domain.promises import PromiseStatus, PromiseTerms
from domain.viewer import Viewer

from .fakes import START, FakeUnitOfWork

P, IP, R, E = CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.ESCALATED
ADMIN = Viewer(user_id=1, is_admin=True)
AGENT = Viewer(user_id=7, is_admin=False)
OTHER_AGENT = Viewer(user_id=8, is_admin=False)
TODAY = START.date()
TERMS = PromiseTerms()


def update_status(uow, case_pk, actor, **change):
    """The use case as the web calls it, on the fake's day."""
    return workflow.update_status(uow, case_pk, actor, today=TODAY, terms=TERMS, **change)


def pay(uow, case, amount: str, reference: str = "REF-1"):
    """A payment recorded on the case through the ledger, committed."""
    payment = uow.payments.add(case, amount=Decimal(amount), paid_on=TODAY, reference=reference,
                               method=PaymentMethod.TRANSFER, by=AGENT.user_id)
    uow.payments.apply(case.id, Decimal(amount), by=AGENT.user_id, kept_percent=TERMS.kept_percent)
    uow.commit()
    return payment


def test_an_agent_resolves_its_case_and_the_new_version_is_stored_and_committed():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    uow.advance(60)
    updated = update_status(uow, case.id, AGENT, status=R, amount_recovered=Decimal("1200.00"))
    # one version: the settlement payment is part of the status change that records it
    assert (updated.status, updated.version, updated.amount_recovered) == (R, 2, Decimal("1200.00"))
    assert updated.resolved_at == updated.updated_at == uow.now
    assert uow.cases.get(case.id) == updated and uow.commits == 1


def test_resolving_records_the_recovery_as_one_settlement_payment_dated_today():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    update_status(uow, case.id, AGENT, status=R, amount_recovered=Decimal("1200.00"))
    [payment] = uow.payments.list(case.id, after_id=None, limit=10)
    assert (payment.amount, payment.method, payment.paid_on, payment.created_by) == (
        Decimal("1200.00"), PaymentMethod.SETTLEMENT, TODAY, AGENT.user_id)
    assert payment.reference == f"settlement-{case.id}-1"


def test_resolving_records_only_the_difference_above_the_payments_so_far():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    pay(uow, case, "400.00")
    updated = update_status(uow, case.id, AGENT, status=R, amount_recovered=Decimal("1000.00"))
    assert updated.amount_recovered == Decimal("1000.00")
    assert [p.amount for p in uow.payments.list(case.id, after_id=None, limit=10)] == [Decimal("400.00"),
                                                                                        Decimal("600.00")]


@pytest.mark.parametrize("amount", [Decimal("400.00"), Decimal("0.00")])
def test_resolving_for_no_more_than_the_payments_records_no_settlement(amount):
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    if amount:
        pay(uow, case, str(amount))
    updated = update_status(uow, case.id, AGENT, status=R, amount_recovered=amount)
    assert (updated.status, updated.amount_recovered) == (R, amount or None)  # no payment: null, as the ledger
    assert len(uow.payments.list(case.id, after_id=None, limit=10)) == (1 if amount else 0)


def test_resolving_for_less_than_the_payments_so_far_is_refused_and_writes_nothing():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    pay(uow, case, "400.00")
    with uow, pytest.raises(InvalidInput) as refused:
        update_status(uow, case.id, AGENT, status=R, amount_recovered=Decimal("399.99"))
    assert refused.value.errors == {"amount_recovered": ["must be at least 400.00, the payments recorded"]}
    assert uow.cases.get(case.id).status is IP and len(uow.payments.list(case.id, after_id=None, limit=9)) == 1


def test_a_settlement_counts_toward_the_open_promise_like_any_payment():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    uow.promises.add(case, amount=Decimal("1500.00"), due_date=TODAY, by=AGENT.user_id)
    uow.commit()
    uow.advance(1)
    update_status(uow, case.id, AGENT, status=R)
    [promise] = uow.promises.list(case.id, after_id=None, limit=10)
    assert (promise.status, promise.paid) == (PromiseStatus.KEPT, Decimal("1500.00"))


def test_resolving_without_an_amount_records_the_whole_due_amount_as_recovered():
    uow = FakeUnitOfWork()
    case = uow.given_case(E, assigned_to=AGENT.user_id, due="310.25")
    assert update_status(uow, case.id, AGENT, status=R).amount_recovered == Decimal("310.25")


def test_the_change_is_written_to_the_history_with_its_actor_and_comment():
    uow = FakeUnitOfWork()
    case = uow.given_case(P, assigned_to=AGENT.user_id)
    update_status(uow, case.id, AGENT, status=IP, comment="called the borrower")
    assert uow.cases.history(case.id) == [
        HistoryEntry(at=START, by=AGENT.user_id, kind=HistoryKind.STATUS, from_value="Pending",
                     to_value="In Progress", comment="called the borrower"),
    ]


def test_an_admin_reopening_a_resolved_case_clears_its_resolution_time_and_keeps_its_payments():
    uow = FakeUnitOfWork()
    case = uow.given_case(R, assigned_to=AGENT.user_id, amount_recovered=Decimal("5.00"), resolved_at=START)
    reopened = update_status(uow, case.id, ADMIN, status=IP)
    # amount_recovered is the sum of the payments, which a status change does not undo
    assert (reopened.status, reopened.amount_recovered, reopened.resolved_at) == (IP, Decimal("5.00"), None)


def test_a_case_reopened_by_status_is_no_longer_one_a_reversal_reopens():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="100.00")
    payment = pay(uow, case, "100.00")
    assert uow.cases.get(case.id).status is R  # paid in full
    update_status(uow, case.id, ADMIN, status=IP)
    update_status(uow, case.id, ADMIN, status=R)  # resolved by status now
    uow.payments.reverse(payment.id, by=ADMIN.user_id, reason="bounced")
    uow.payments.apply(case.id, Decimal("-100.00"), by=ADMIN.user_id, kept_percent=TERMS.kept_percent)
    assert uow.cases.get(case.id).status is R


def test_a_status_change_publishes_cases_changed_once_it_commits():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id)
    published_before_commit, commit = [], uow.commit

    def watched_commit():
        published_before_commit.append(list(uow.published))
        commit()

    uow.commit = watched_commit
    update_status(uow, case.id, AGENT, status=E)
    assert published_before_commit == [[]] and uow.published == [CasesChanged("status")]


def test_an_unknown_case_is_not_found():
    with pytest.raises(NotFound):
        update_status(FakeUnitOfWork(), 404, ADMIN, status=IP)


def test_an_agent_may_not_change_a_case_assigned_to_another_agent():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id)
    with pytest.raises(Forbidden):
        update_status(uow, case.id, OTHER_AGENT, status=E)


def test_an_admin_may_change_any_case_even_an_unassigned_one():
    uow = FakeUnitOfWork()
    case = uow.given_case(P, assigned_to=None)
    assert update_status(uow, case.id, ADMIN, status=E).status is E


def test_a_stale_if_match_version_fails_the_precondition():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, version=3)
    with pytest.raises(PreconditionFailed):
        update_status(uow, case.id, AGENT, status=E, if_match=frozenset({1, 2}))
    assert update_status(uow, case.id, AGENT, status=E, if_match=frozenset({2, 3})).version == 4


@pytest.mark.parametrize(("status", "actor", "error"), [
    (R, AGENT, Conflict),  # Pending cannot move to Resolved
    (IP, OTHER_AGENT, Forbidden),
])
def test_a_refused_change_writes_nothing_publishes_nothing_and_commits_nothing(status, actor, error):
    uow = FakeUnitOfWork()
    case = uow.given_case(P, assigned_to=AGENT.user_id)
    with uow, pytest.raises(error):
        update_status(uow, case.id, actor, status=status)
    assert uow.cases.get(case.id) == case and uow.cases.history(case.id) == []
    assert (uow.commits, uow.published) == (0, [])


def test_an_agent_may_not_reopen_a_resolved_case():
    uow = FakeUnitOfWork()
    case = uow.given_case(R, assigned_to=AGENT.user_id)
    with pytest.raises(Forbidden):
        update_status(uow, case.id, AGENT, status=IP)
    assert uow.commits == 0


def test_a_settlement_whose_reference_a_payment_of_the_bank_took_gets_the_next_suffix():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1500.00")
    pay(uow, case, "100.00", reference=f"settlement-{case.id}-2")  # sent by a client, say; the case is at version 2
    update_status(uow, case.id, AGENT, status=R)
    assert [p.reference for p in uow.payments.list(case.id, after_id=None, limit=5)] == [
        f"settlement-{case.id}-2", f"settlement-{case.id}-2-1"]
    assert uow.cases.get(case.id).amount_recovered == Decimal("1500.00")


def test_a_case_paid_beyond_the_due_amount_a_refresh_lowered_is_resolved_for_its_payments():
    uow = FakeUnitOfWork()
    case = uow.given_case(IP, assigned_to=AGENT.user_id, due="1000.00")
    pay(uow, case, "600.00")
    lowered = replace(uow.tables.cases[case.id], due_amount=Decimal("500.00"))  # the bank's new figure
    uow.tables.cases[case.id] = lowered
    uow.commit()
    updated = update_status(uow, case.id, AGENT, status=R)
    assert (updated.status, updated.amount_recovered) == (R, Decimal("600.00"))
    assert len(uow.payments.list(case.id, after_id=None, limit=10)) == 1  # no settlement on top

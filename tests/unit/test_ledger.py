"""The payment use cases (domain/ledger.py) against the in-memory unit of work."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain import ledger
from domain.cases import CaseStatus, HistoryKind
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.events import CasesChanged
from domain.payments import PAID_IN_FULL, REOPENED_BY_REVERSAL, PaymentMethod
from domain.promises import PromiseStatus, PromiseTerms
from domain.viewer import Viewer

from .fakes import START, FakeUnitOfWork

D = Decimal
IP, R = CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED
ADMIN = Viewer(user_id=1, is_admin=True)
AGENT = Viewer(user_id=7, is_admin=False)
OTHER_AGENT = Viewer(user_id=8, is_admin=False)
TODAY = START.date()
TERMS = PromiseTerms()


def pay(uow, case_pk, amount="100.00", reference="REF-1", viewer=AGENT, paid_on=TODAY, terms=TERMS):
    return ledger.record_payment(uow, case_pk, viewer, amount=D(amount), paid_on=paid_on, reference=reference,
                                 method=PaymentMethod.TRANSFER, today=TODAY, terms=terms)


def reverse(uow, payment_id, viewer=ADMIN, reason="bounced"):
    return ledger.reverse_payment(uow, payment_id, viewer, reason=reason, terms=TERMS)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def case(uow):
    return uow.given_case(IP, assigned_to=AGENT.user_id, due="1000.00")


def test_a_payment_is_recorded_and_moves_the_cases_recovery_and_version(uow, case):
    payment, created = pay(uow, case.id, "250.00")
    assert created and (payment.amount, payment.case_pk, payment.created_by) == (D("250.00"), case.id, AGENT.user_id)
    stored = uow.cases.get(case.id)
    assert (stored.amount_recovered, stored.balance, stored.status, stored.version) == (D("250.00"), D("750.00"), IP, 2)
    assert uow.commits == 1 and uow.published == [CasesChanged("payment")]


def test_the_same_reference_amount_and_case_again_is_the_first_payment_and_writes_nothing(uow, case):
    first, _ = pay(uow, case.id, "250.00")
    again, created = pay(uow, case.id, "250.00", paid_on=TODAY - timedelta(days=1))
    assert (again, created) == (first, False)
    assert uow.commits == 1 and uow.cases.get(case.id).amount_recovered == D("250.00")


def test_the_same_payment_again_is_answered_even_once_it_no_longer_fits_the_balance(uow, case):
    first, _ = pay(uow, case.id, "1000.00")  # paid in full: balance 0
    assert pay(uow, case.id, "1000.00") == (first, False)


@pytest.mark.parametrize("change", ["amount", "case"])
def test_a_reference_the_bank_used_for_another_payment_is_a_conflict(uow, case, change):
    pay(uow, case.id, "250.00")
    other = uow.given_case(IP, assigned_to=AGENT.user_id, bank_code=case.bank_code)
    with pytest.raises(Conflict) as refused:
        pay(uow, other.id if change == "case" else case.id, "250.01" if change == "amount" else "250.00")
    assert "reference" in refused.value.errors
    assert len(uow.tables.payments) == 1


def test_a_reference_is_unique_per_bank_only(uow, case):
    pay(uow, case.id, "250.00")
    other_bank = uow.given_case(IP, assigned_to=AGENT.user_id, bank_code="HDFC")
    assert pay(uow, other_bank.id, "250.00")[1]


@pytest.mark.parametrize(("amount", "days", "field"), [("1000.01", 0, "amount"), ("0.00", 0, "amount"),
                                                         ("-1.00", 0, "amount"), ("1.00", 1, "paid_on")])
def test_a_payment_breaking_a_rule_is_refused_and_writes_nothing(uow, case, amount, days, field):
    with uow, pytest.raises(InvalidInput) as refused:
        pay(uow, case.id, amount, paid_on=TODAY + timedelta(days=days))
    assert field in refused.value.errors
    assert uow.tables.payments == {} and uow.cases.get(case.id) == case and uow.commits == 0


def test_payments_beyond_the_balance_together_are_refused_for_what_goes_over(uow, case):
    pay(uow, case.id, "600.00", reference="A")
    with pytest.raises(InvalidInput):
        pay(uow, case.id, "400.01", reference="B")
    assert pay(uow, case.id, "400.00", reference="C")[1]


def test_an_agent_pays_only_its_own_cases_and_an_unknown_case_is_not_found(uow, case):
    with pytest.raises(Forbidden):
        pay(uow, case.id, viewer=OTHER_AGENT)
    with pytest.raises(NotFound):
        pay(uow, 999)
    assert pay(uow, case.id, viewer=ADMIN)[1]


def test_paying_the_balance_resolves_the_case_paid_in_full(uow, case):
    pay(uow, case.id, "400.00", reference="A")
    pay(uow, case.id, "600.00", reference="B")
    stored = uow.cases.get(case.id)
    assert (stored.status, stored.balance, stored.resolved_at, stored.assigned_to) == (R, 0, uow.now, AGENT.user_id)
    moves = [(e.from_value, e.to_value, e.comment) for e in uow.cases.history(case.id) if e.kind is HistoryKind.STATUS]
    assert moves == [("In Progress", "Resolved", PAID_IN_FULL)]


def test_a_reversal_reopens_a_case_a_payment_resolved_with_the_same_agent(uow, case):
    payment, _ = pay(uow, case.id, "1000.00")
    reversed_payment = reverse(uow, payment.id, reason="cheque bounced")
    assert (reversed_payment.reversed_at, reversed_payment.reversed_by) == (uow.now, ADMIN.user_id)
    stored = uow.cases.get(case.id)
    assert (stored.status, stored.amount_recovered, stored.resolved_at, stored.assigned_to) == (IP, None, None, 7)
    assert [e.comment for e in uow.cases.history(case.id) if e.kind is HistoryKind.STATUS][-1] == REOPENED_BY_REVERSAL


def test_a_reversal_does_not_reopen_a_case_resolved_by_status(uow):
    case = uow.given_case(R, assigned_to=AGENT.user_id, due="1000.00", amount_recovered=D("300.00"),
                          resolved_at=START)
    uow.payments.add(case, amount=D("300.00"), paid_on=TODAY, reference="settlement-1-1",
                     method=PaymentMethod.SETTLEMENT, by=ADMIN.user_id)
    uow.commit()
    reverse(uow, 1)
    stored = uow.cases.get(case.id)
    assert (stored.status, stored.amount_recovered, stored.resolved_at) == (R, None, START)


def test_reversing_twice_is_a_conflict_and_only_admins_reverse(uow, case):
    payment, _ = pay(uow, case.id, "100.00")
    with pytest.raises(Forbidden):
        reverse(uow, payment.id, viewer=AGENT)
    reverse(uow, payment.id)
    with pytest.raises(Conflict):
        reverse(uow, payment.id)
    with pytest.raises(NotFound):
        reverse(uow, 999)
    assert uow.cases.get(case.id).amount_recovered is None


def test_a_payment_keeps_the_open_promise_on_its_exact_threshold(uow, case):
    uow.promises.add(case, amount=D("300.00"), due_date=TODAY + timedelta(days=5), by=AGENT.user_id)
    uow.commit()
    pay(uow, case.id, "299.99", reference="A")
    assert uow.cases.get(case.id).promise.paid == D("299.99")
    pay(uow, case.id, "0.01", reference="B")
    [promise] = uow.promises.list(case.id, after_id=None, limit=5)
    assert (promise.status, promise.paid, promise.closed_at) == (PromiseStatus.KEPT, D("300.00"), uow.now)
    assert uow.cases.get(case.id).promise is None


def test_a_lower_kept_percent_keeps_a_promise_on_its_share(uow, case):
    uow.promises.add(case, amount=D("300.00"), due_date=TODAY, by=AGENT.user_id)
    uow.commit()
    pay(uow, case.id, "150.00", terms=PromiseTerms(kept_percent=D(50)))
    assert uow.promises.get(1).status is PromiseStatus.KEPT


def test_a_payment_dated_before_the_promise_does_not_count_toward_it(uow, case):
    uow.promises.add(case, amount=D("300.00"), due_date=TODAY + timedelta(days=5), by=AGENT.user_id)
    uow.commit()
    pay(uow, case.id, "300.00", paid_on=TODAY - timedelta(days=1))
    assert (uow.promises.get(1).status, uow.promises.get(1).paid) == (PromiseStatus.OPEN, D("0.00"))


def test_a_reversal_lowers_what_an_open_promise_counts_but_never_a_closed_ones(uow, case):
    uow.promises.add(case, amount=D("300.00"), due_date=TODAY + timedelta(days=5), by=AGENT.user_id)
    uow.commit()
    first, _ = pay(uow, case.id, "100.00", reference="A")
    reverse(uow, first.id)
    assert uow.promises.get(1).paid == D("0.00")
    second, _ = pay(uow, case.id, "300.00", reference="B")
    reverse(uow, second.id)
    assert (uow.promises.get(1).status, uow.promises.get(1).paid) == (PromiseStatus.KEPT, D("300.00"))


def test_a_cases_payments_are_listed_oldest_first_to_those_who_may_see_it(uow, case):
    for n in range(3):
        pay(uow, case.id, "10.00", reference=f"R-{n}")
    listed = ledger.list_payments(uow, case.id, AGENT, after_id=1, limit=5)
    assert [p.reference for p in listed] == ["R-1", "R-2"]
    with pytest.raises(NotFound):
        ledger.list_payments(uow, case.id, OTHER_AGENT, after_id=None, limit=5)

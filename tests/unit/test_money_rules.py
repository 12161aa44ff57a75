"""The rules of payments and promises to pay (domain/payments.py, domain/promises.py), no database."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain.cases import CaseStatus
from domain.errors import InvalidInput
from domain.payments import (
    MAX_REFERENCE_LENGTH,
    PAID_IN_FULL,
    REOPENED_BY_REVERSAL,
    balance,
    check_payment,
    settlement_on_resolve,
    status_after_ledger,
)
from domain.promises import PromiseStatus, PromiseTerms, check_promise, counts_toward, kept_threshold, state_of

D = Decimal
TODAY = date(2026, 3, 10)
TERMS = PromiseTerms(max_days=30, grace_days=2, kept_percent=D(100))
P, IP, R, E = CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED, CaseStatus.ESCALATED


def test_the_balance_is_what_is_due_less_what_was_recovered():
    assert balance(D("100.00"), None) == D("100.00")
    assert balance(D("100.00"), D("40.50")) == D("59.50")


@pytest.mark.parametrize("amount", ["0.01", "59.99", "60.00"])
def test_a_payment_up_to_the_balance_paid_up_to_today_is_accepted(amount):
    check_payment(amount=D(amount), paid_on=TODAY, reference="R-1", balance_due=D("60.00"), today=TODAY)
    check_payment(amount=D(amount), paid_on=TODAY - timedelta(days=400), reference="R-1", balance_due=D("60.00"),
                  today=TODAY)


@pytest.mark.parametrize(("amount", "paid_on", "reference", "fields"), [
    ("0.00", TODAY, "R-1", {"amount"}),
    ("-5.00", TODAY, "R-1", {"amount"}),
    ("60.01", TODAY, "R-1", {"amount"}),
    ("1.00", TODAY + timedelta(days=1), "R-1", {"paid_on"}),
    ("1.00", TODAY, "  ", {"reference"}),
    ("1.00", TODAY, "x" * (MAX_REFERENCE_LENGTH + 1), {"reference"}),
    ("99.00", TODAY + timedelta(days=1), "", {"amount", "paid_on", "reference"}),
])
def test_a_payment_breaking_a_rule_is_invalid_input_naming_each_field(amount, paid_on, reference, fields):
    with pytest.raises(InvalidInput) as refused:
        check_payment(amount=D(amount), paid_on=paid_on, reference=reference, balance_due=D("60.00"), today=TODAY)
    assert set(refused.value.errors) == fields


# (status, balance after the change, resolved by a payment) -> (status moved to, comment) or None
LEDGER_MOVES = [
    (P, D("0.00"), False, (R, PAID_IN_FULL)),
    (IP, D("0.00"), False, (R, PAID_IN_FULL)),
    (E, D("0.00"), False, (R, PAID_IN_FULL)),
    (IP, D("-0.01"), False, (R, PAID_IN_FULL)),  # due lowered below the payments by a refresh
    (R, D("0.00"), True, None),
    (R, D("0.00"), False, None),
    (IP, D("10.00"), False, None),
    (E, D("10.00"), False, None),
    (R, D("10.00"), True, (IP, REOPENED_BY_REVERSAL)),
    (R, D("0.01"), True, (IP, REOPENED_BY_REVERSAL)),
    (R, D("10.00"), False, None),  # resolved by status: a reversal leaves it resolved
]


@pytest.mark.parametrize(("status", "balance_after", "by_payment", "expected"), LEDGER_MOVES)
def test_the_ledger_resolves_what_it_pays_off_and_reopens_only_what_a_payment_resolved(status, balance_after,
                                                                                      by_payment, expected):
    move = status_after_ledger(status, balance_after, resolved_by_payment=by_payment)
    assert (None if move is None else (move.to, move.comment)) == expected
    if move is not None:
        assert move.resolved_by_payment is (move.to is R)


@pytest.mark.parametrize(("target", "so_far", "due", "settlement"), [
    (None, None, "100.00", "100.00"), (None, "30.00", "100.00", "70.00"), ("30.00", "30.00", "100.00", "0.00"),
    ("0.00", None, "100.00", "0.00"), ("80.00", "30.00", "100.00", "50.00"),
])
def test_a_resolution_settles_the_difference_above_the_payments(target, so_far, due, settlement):
    assert settlement_on_resolve(target and D(target), so_far and D(so_far), D(due)) == D(settlement)


def test_a_resolution_below_the_payments_is_refused():
    with pytest.raises(InvalidInput):
        settlement_on_resolve(D("29.99"), D("30.00"), D("100.00"))


@pytest.mark.parametrize(("amount", "percent", "threshold"), [
    ("100.00", 100, "100.00"), ("100.01", 50, "50.01"), ("100.03", 50, "50.02"), ("33.33", 33, "11.00"),
    ("0.01", 1, "0.01"), ("0.05", 10, "0.01"), ("0.04", 10, "0.01"), ("999.99", 80, "799.99"),
])
def test_the_kept_threshold_is_the_percent_of_the_amount_rounded_half_up_to_the_cent(amount, percent, threshold):
    assert kept_threshold(D(amount), D(percent)) == D(threshold)


DUE = date(2026, 3, 20)


@pytest.mark.parametrize(("paid", "as_of", "status"), [
    ("0.00", DUE, PromiseStatus.OPEN),
    ("0.00", DUE + timedelta(days=2), PromiseStatus.OPEN),  # due + grace itself: still open
    ("0.00", DUE + timedelta(days=3), PromiseStatus.BROKEN),
    ("0.01", DUE + timedelta(days=3), PromiseStatus.PARTIAL),
    ("99.99", DUE + timedelta(days=3), PromiseStatus.PARTIAL),
    ("99.99", DUE + timedelta(days=2), PromiseStatus.OPEN),
    ("100.00", TODAY, PromiseStatus.KEPT),  # the exact threshold keeps it, early or late
    ("100.00", DUE + timedelta(days=30), PromiseStatus.KEPT),
    ("150.00", DUE, PromiseStatus.KEPT),
])
def test_a_promise_is_kept_at_its_threshold_and_closes_only_after_due_date_and_grace(paid, as_of, status):
    assert state_of(D("100.00"), D(paid), DUE, as_of, TERMS) is status


def test_a_lower_kept_percent_keeps_a_promise_paid_in_part():
    terms = PromiseTerms(grace_days=0, kept_percent=D(80))
    assert state_of(D("100.00"), D("80.00"), DUE, DUE, terms) is PromiseStatus.KEPT
    assert state_of(D("100.00"), D("79.99"), DUE, DUE + timedelta(days=1), terms) is PromiseStatus.PARTIAL


TAKEN = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(("paid_on", "recorded_at", "counts"), [
    (TAKEN.date(), TAKEN, True),  # recorded the moment it was taken, paid that day
    (TAKEN.date() + timedelta(days=3), TAKEN + timedelta(days=3), True),
    (TAKEN.date() - timedelta(days=1), TAKEN + timedelta(hours=1), False),  # paid before the promise's day
    (TAKEN.date(), TAKEN - timedelta(microseconds=1), False),  # recorded before the promise
])
def test_a_payment_counts_toward_a_promise_recorded_after_it_and_paid_from_its_day_on(paid_on, recorded_at, counts):
    assert counts_toward(paid_on, recorded_at, TAKEN) is counts


def test_the_promises_day_is_the_utc_day_whatever_the_clock_it_is_read_in():
    taken_late = datetime(2026, 3, 10, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 11 March, 04:30 UTC
    assert not counts_toward(date(2026, 3, 10), taken_late + timedelta(hours=1), taken_late)
    assert counts_toward(date(2026, 3, 11), taken_late + timedelta(hours=1), taken_late)


@pytest.mark.parametrize("due_date", [TODAY, TODAY + timedelta(days=30)])
def test_a_promise_may_fall_due_from_today_to_today_plus_the_max_days(due_date):
    check_promise(amount=D("10.00"), due_date=due_date, balance_due=D("10.00"), today=TODAY, terms=TERMS)


@pytest.mark.parametrize(("amount", "due_date", "fields"), [
    ("10.00", TODAY - timedelta(days=1), {"due_date"}),
    ("10.00", TODAY + timedelta(days=31), {"due_date"}),
    ("10.01", TODAY, {"amount"}),
    ("0.00", TODAY, {"amount"}),
    ("-1.00", TODAY + timedelta(days=99), {"amount", "due_date"}),
])
def test_a_promise_breaking_a_rule_is_invalid_input_naming_each_field(amount, due_date, fields):
    with pytest.raises(InvalidInput) as refused:
        check_promise(amount=D(amount), due_date=due_date, balance_due=D("10.00"), today=TODAY, terms=TERMS)
    assert set(refused.value.errors) == fields


def test_a_cases_payments_in_file_order_are_each_taken_while_they_fit_what_the_earlier_ones_left():
    from domain.payments import payments_that_fit

    assert payments_that_fit(D("100.00"), [D("80.00"), D("50.00"), D("20.00")]) == [True, False, True]
    assert payments_that_fit(D("100.00"), [D("100.00"), D("0.01")]) == [True, False]
    assert payments_that_fit(D("0.00"), [D("0.01")]) == [False]
    assert payments_that_fit(D("10.00"), []) == []


def test_a_case_paid_beyond_a_due_amount_the_bank_lowered_resolves_with_no_settlement():
    from domain.payments import settlement_on_resolve

    assert settlement_on_resolve(None, D("600.00"), D("500.00")) == 0
    assert settlement_on_resolve(D("600.00"), D("600.00"), D("500.00")) == 0

"""The rules of a row of the bank's payments file, with no database (domain.payment_files.check_row)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.payment_files import check_row
from domain.payments import MAX_REFERENCE_LENGTH

TODAY = date(2026, 12, 3)
GOOD = {"case_id": "CASE-1", "amount": "250.00", "paid_on": "2026-12-01", "reference": "PAY-1", "method": "card"}


def row(**changes) -> list:
    values = {**GOOD, **changes}
    return [values[c] for c in ("case_id", "amount", "paid_on", "reference", "method")]


def problems(**changes) -> dict[str, str]:
    checked = check_row(row(**changes), TODAY)
    assert checked.payment is None
    return {p.field: p.message for p in checked.problems}


def test_a_valid_row_is_normalized_trimmed_and_typed():
    checked = check_row(row(case_id=" CASE-1 ", amount=" 250.5 ", paid_on="2026-12-03", reference=" PAY-1 ",
                            method=" Transfer "), TODAY)
    assert checked.problems == []
    assert tuple(checked.payment) == ("CASE-1", Decimal("250.50"), date(2026, 12, 3), "PAY-1", "transfer")


@pytest.mark.parametrize("method", [None, "", "  "])
def test_a_missing_or_empty_method_is_other(method):
    assert check_row(row(method=method), TODAY).payment.method == "other"


@pytest.mark.parametrize("amount", [Decimal("12.5"), 12, "0.01", ".5", "999999999999.99"])
def test_amounts_are_json_numbers_or_plain_decimal_strings_above_zero(amount):
    assert check_row(row(amount=amount), TODAY).payment.amount == Decimal(amount)


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "must be greater than 0.00"),
    ("0.00", "must be greater than 0.00"),
    ("-5", "must be greater than 0.00"),
    (Decimal("-1"), "must be greater than 0.00"),
    ("1.234", "must have at most 2 decimals"),
    ("1e3", "must be a decimal number like 1234.56"),
    ("NaN", "must be a decimal number like 1234.56"),
    ("12,50", "must be a decimal number like 1234.56"),
    ("1000000000000", "must be at most 999999999999.99"),
    ("", "is required"),
    (None, "is required"),
    (True, "must be a decimal number like 1234.56"),
])
def test_an_amount_that_is_not_a_decimal_above_zero_with_two_decimals_at_most_is_refused(amount, message):
    assert problems(amount=amount) == {"amount": message}


def test_paid_on_today_is_accepted_and_tomorrow_is_in_the_future():
    assert check_row(row(paid_on="2026-12-03"), TODAY).payment is not None
    assert problems(paid_on="2026-12-04") == {"paid_on": "must not be in the future"}


@pytest.mark.parametrize(("paid_on", "message"), [
    ("03/12/2026", "must be a date like 2026-12-31"),
    ("20261201", "must be a date like 2026-12-31"),
    ("2026-02-30", "2026-02-30 is not a date"),
    (20261201, "must be a date like 2026-12-31"),
    (None, "is required"),
])
def test_paid_on_must_be_an_iso_date(paid_on, message):
    assert problems(paid_on=paid_on) == {"paid_on": message}


def test_a_reference_is_one_to_the_maximum_characters_after_trimming():
    assert check_row(row(reference="R" * MAX_REFERENCE_LENGTH), TODAY).payment is not None
    message = f"must be 1 to {MAX_REFERENCE_LENGTH} characters"
    assert problems(reference="R" * (MAX_REFERENCE_LENGTH + 1)) == {"reference": message}
    assert problems(reference="   ") == {"reference": message}
    assert problems(reference=None) == {"reference": "is required"}
    assert problems(reference="A\x00B") == {"reference": "must not contain NUL characters"}


def test_settlement_and_unknown_methods_are_refused():
    expected = {"method": "must be one of transfer, card, cash, cheque, other"}
    assert problems(method="settlement") == expected
    assert problems(method="bitcoin") == expected


def test_case_id_is_required_and_at_most_64_characters():
    assert problems(case_id="") == {"case_id": "must not be empty"}
    assert problems(case_id="C" * 65) == {"case_id": "must be at most 64 characters"}
    assert problems(case_id=42) == {"case_id": "must be a string"}


def test_every_problem_of_a_row_is_reported_in_column_order_with_the_case_id_kept():
    checked = check_row(row(case_id=" CASE-9 ", amount="0", paid_on="2030-01-01", reference="", method="x"), TODAY)
    assert checked.case_id == "CASE-9" and checked.payment is None
    assert [p.field for p in checked.problems] == ["amount", "paid_on", "reference", "method"]

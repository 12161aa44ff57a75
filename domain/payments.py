"""Payments: the ledger of what a borrower paid, and its effect on the case. Pure rules.

A case's `amount_recovered` is always the sum of its payments not reversed (null while there is
none); its balance is what is still due. A payment that brings the balance to 0 resolves the
case ("paid in full"); a reversal that leaves a balance reopens a case that a payment had
resolved. The store applies these rules set-based, for one payment and for a bank's whole file.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from domain.cases import CaseStatus
from domain.errors import InvalidInput

MAX_REFERENCE_LENGTH = 128
PAID_IN_FULL = "paid in full"
REOPENED_BY_REVERSAL = "payment reversed: balance due again"


class PaymentMethod(str, enum.Enum):
    TRANSFER = "transfer"
    CARD = "card"
    CASH = "cash"
    CHEQUE = "cheque"
    OTHER = "other"
    SETTLEMENT = "settlement"  # recorded by resolving a case with more than its payments so far


# what a client may send; settlement payments are the workflow's own
CLIENT_METHODS = tuple(m for m in PaymentMethod if m is not PaymentMethod.SETTLEMENT)


@dataclass(frozen=True)
class Payment:
    id: int
    case_pk: int
    case_id: str  # the bank's case id
    amount: Decimal
    paid_on: date
    reference: str
    method: PaymentMethod
    created_by: int | None
    created_at: datetime
    reversed_at: datetime | None = None
    reversed_by: int | None = None
    reversal_reason: str | None = None


def balance(due_amount: Decimal, amount_recovered: Decimal | None) -> Decimal:
    """What is still due on a case."""
    return due_amount - (amount_recovered or Decimal(0))


def check_payment(*, amount: Decimal, paid_on: date, reference: str, balance_due: Decimal, today: date) -> None:
    """A payment the case can take, or InvalidInput naming each field that breaks a rule."""
    errors: dict[str, list[str]] = {}
    if not amount > 0:
        errors["amount"] = ["must be greater than 0.00"]
    elif amount > balance_due:
        errors["amount"] = [f"must not exceed the case's balance {balance_due}"]
    if paid_on > today:
        errors["paid_on"] = ["must not be in the future"]
    if not reference.strip() or len(reference) > MAX_REFERENCE_LENGTH:
        errors["reference"] = [f"must be 1 to {MAX_REFERENCE_LENGTH} characters"]
    if errors:
        raise InvalidInput("the payment breaks " + ", ".join(errors) + " rules", errors)


def payments_that_fit(balance_due: Decimal, amounts: Iterable[Decimal]) -> list[bool]:
    """One case's payments taken in order, each by the single payment's rule: a payment is
    accepted while it fits the balance the accepted ones before it left."""
    left, fits = balance_due, []
    for amount in amounts:
        fits.append(amount <= left)
        if fits[-1]:
            left -= amount
    return fits


def is_same_payment(stored: Payment, *, case_pk: int, amount: Decimal) -> bool:
    """A reference sent again: the same payment (answered with the first) or a conflict."""
    return stored.case_pk == case_pk and stored.amount == amount


def settlement_reference(case_pk: int, version: int, attempt: int = 0) -> str:
    """The reference of the settlement payment a status change records: one per version of the
    case; `attempt` > 0 when a payment of the bank already took the plain one."""
    return f"settlement-{case_pk}-{version}" + (f"-{attempt}" if attempt else "")


@dataclass(frozen=True)
class LedgerOutcome:
    """What applying changes of the ledger did to their cases and promises."""

    paid_off: int  # cases resolved by a payment
    reopened: int  # cases reopened by a reversal
    promises_kept: int


@dataclass(frozen=True)
class LedgerMove:
    """The status move a change of the ledger makes, with its history comment."""

    to: CaseStatus
    comment: str
    resolved_by_payment: bool


def status_after_ledger(status: CaseStatus, balance_after: Decimal, *, resolved_by_payment: bool) -> LedgerMove | None:
    """The move the ledger makes: paid in full resolves; a balance due again reopens what a payment resolved."""
    if balance_after <= 0 and status is not CaseStatus.RESOLVED:
        return LedgerMove(CaseStatus.RESOLVED, PAID_IN_FULL, resolved_by_payment=True)
    if balance_after > 0 and status is CaseStatus.RESOLVED and resolved_by_payment:
        return LedgerMove(CaseStatus.IN_PROGRESS, REOPENED_BY_REVERSAL, resolved_by_payment=False)
    return None


def settlement_on_resolve(amount_recovered: Decimal | None, recovered_so_far: Decimal | None,
                          due_amount: Decimal) -> Decimal:
    """The settlement payment that resolving with `amount_recovered` records (0: none).

    Without an amount the case settles for its whole due amount (nothing more when the payments
    already reach it). An amount below the payments already recorded is refused: the ledger
    cannot be undone by a status change.
    """
    so_far = recovered_so_far or Decimal(0)
    target = max(due_amount, so_far) if amount_recovered is None else amount_recovered
    if target < so_far:
        raise InvalidInput(f"amount_recovered must be at least the payments already recorded ({so_far})",
                           {"amount_recovered": [f"must be at least {so_far}, the payments recorded"]})
    return target - so_far

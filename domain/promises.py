"""Promises to pay: open → kept / partial / broken / cancelled. Pure rules.

A payment counts toward the case's open promise when it is recorded after the promise was taken
and `paid_on` is on or after the day it was taken. The promise is kept as soon as what counts
reaches `amount × kept_percent / 100`; once `as_of` is past `due_date + grace_days` and it is
not kept, it closes as broken (nothing paid) or partial (something paid). A closed promise
never changes again.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from domain.errors import InvalidInput

_CENT = Decimal("0.01")


class PromiseStatus(str, enum.Enum):
    OPEN = "open"
    KEPT = "kept"
    PARTIAL = "partial"
    BROKEN = "broken"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PromiseTerms:
    """The settings that decide promises (PROMISE_MAX_DAYS, PROMISE_GRACE_DAYS, PROMISE_KEPT_PERCENT)."""

    max_days: int = 30
    grace_days: int = 2
    kept_percent: Decimal = Decimal(100)


@dataclass(frozen=True)
class Promise:
    id: int
    case_pk: int
    case_id: str
    amount: Decimal
    due_date: date
    status: PromiseStatus
    paid: Decimal
    created_by: int | None
    created_at: datetime
    closed_at: datetime | None = None
    cancel_reason: str | None = None


def kept_threshold(amount: Decimal, kept_percent: Decimal) -> Decimal:
    """What must be paid for the promise to be kept, in cents (half up), and at least a cent:
    a promise is never kept with nothing paid."""
    return max((amount * kept_percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP), _CENT)


def counts_toward(paid_on: date, recorded_at: datetime, promise_created_at: datetime) -> bool:
    """Whether a payment counts toward a promise: recorded since it was taken, paid on or after its day (UTC)."""
    return recorded_at >= promise_created_at and paid_on >= promise_created_at.astimezone(UTC).date()


def state_of(amount: Decimal, paid: Decimal, due_date: date, as_of: date, terms: PromiseTerms) -> PromiseStatus:
    """An open promise's status given what was paid toward it, on `as_of`."""
    if paid >= kept_threshold(amount, terms.kept_percent):
        return PromiseStatus.KEPT
    if as_of > due_date + timedelta(days=terms.grace_days):
        return PromiseStatus.PARTIAL if paid > 0 else PromiseStatus.BROKEN
    return PromiseStatus.OPEN


def check_promise(*, amount: Decimal, due_date: date, balance_due: Decimal, today: date, terms: PromiseTerms) -> None:
    """A promise the case can take, or InvalidInput naming each field that breaks a rule."""
    errors: dict[str, list[str]] = {}
    if not amount > 0:
        errors["amount"] = ["must be greater than 0.00"]
    elif amount > balance_due:
        errors["amount"] = [f"must not exceed the case's balance {balance_due}"]
    latest = today + timedelta(days=terms.max_days)
    if not today <= due_date <= latest:
        errors["due_date"] = [f"must be between {today.isoformat()} and {latest.isoformat()}"]
    if errors:
        raise InvalidInput("the promise breaks " + ", ".join(errors) + " rules", errors)

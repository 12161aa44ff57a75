"""The ledger's use cases: record a payment on a case, reverse one, list a case's payments.

Each locks its case first (FOR UPDATE), so the payments of one case queue up: each sees the
balance the previous one left, and two that together exceed it cannot both pass. The case's
`amount_recovered`, its status and its open promise follow through `uow.payments.apply`, the
same set-based path the bank's payments file takes.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from domain.case_queries import get_case, locked_case
from domain.cases import Case
from domain.errors import Conflict, Forbidden, NotFound
from domain.events import CasesChanged
from domain.payments import Payment, PaymentMethod, check_payment, is_same_payment
from domain.promises import PromiseTerms
from domain.viewer import Viewer

if TYPE_CHECKING:
    from domain.unit_of_work import UnitOfWork


def record_payment(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, amount: Decimal, paid_on: date,
                   reference: str, method: PaymentMethod, today: date, terms: PromiseTerms) -> tuple[Payment, bool]:
    """Record a payment the borrower made; returns (the payment, True when it is new).

    A reference the bank already used for the same amount on the same case is that payment
    again: the first comes back and nothing is written. Anything else under that reference is
    a conflict.
    """
    reference = reference.strip()  # as the payments file reads it: one reference, however it was typed
    case = locked_case(uow, case_pk, viewer)
    earlier = uow.payments.by_reference(case.bank_code, reference)
    if earlier is not None:
        return _sent_again(earlier, case, amount), False
    check_payment(amount=amount, paid_on=paid_on, reference=reference, balance_due=case.balance, today=today)
    payment = uow.payments.add(case, amount=amount, paid_on=paid_on, reference=reference, method=method,
                               by=viewer.user_id)
    if payment is None:  # another case of the bank took the reference since we looked: nothing written
        return _sent_again(uow.payments.by_reference(case.bank_code, reference), case, amount), False
    uow.payments.apply(case.id, amount, by=viewer.user_id, kept_percent=terms.kept_percent)
    uow.record(CasesChanged("payment"))
    uow.commit()
    return payment, True


def reverse_payment(uow: UnitOfWork, payment_id: int, viewer: Viewer, *, reason: str,
                    terms: PromiseTerms) -> Payment:
    """Reverse a payment (admin): it stops counting toward its case and the case's open promise."""
    if not viewer.is_admin:
        raise Forbidden("reversing a payment needs the admin role")
    found = uow.payments.get(payment_id)
    if found is None:
        raise NotFound(f"payment {payment_id} not found")
    uow.cases.get(found.case_pk, for_update=True)  # the case's lock first, as for a new payment
    payment = uow.payments.get(payment_id)  # as the last writer of the case left it
    if payment.reversed_at is not None:
        raise Conflict(f"payment {payment_id} was already reversed at {payment.reversed_at.isoformat()}")
    reversed_payment = uow.payments.reverse(payment_id, by=viewer.user_id, reason=reason)
    uow.payments.apply(payment.case_pk, -payment.amount, by=viewer.user_id, kept_percent=terms.kept_percent)
    uow.record(CasesChanged("payment reversed"))
    uow.commit()
    return reversed_payment


def list_payments(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, after_id: int | None,
                  limit: int) -> list[Payment]:
    """The case's payments, oldest first, after the payment `after_id`; NotFound when the viewer
    may not see the case."""
    get_case(uow, case_pk, viewer)
    return uow.payments.list(case_pk, after_id=after_id, limit=limit)


def _sent_again(earlier: Payment, case: Case, amount: Decimal) -> Payment:
    if not is_same_payment(earlier, case_pk=case.id, amount=amount):
        raise Conflict(f"reference {earlier.reference} is already recorded for another payment of bank "
                       f"{case.bank_code}", {"reference": ["already used for another payment of this bank"]})
    return earlier

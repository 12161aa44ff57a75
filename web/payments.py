"""Payments: record one on a case, list a case's, reverse one (admin)."""
from __future__ import annotations

from datetime import UTC, date, datetime

from flask_jwt_extended import jwt_required

from domain import ledger
from domain.payments import PaymentMethod
from web.auth import admin_required, viewer
from web.extensions import reading, settings, unit_of_work
from web.pagination import decode_cursor, page, strict_int
from web.schemas.collecting import NewPaymentSchema, PaymentPageSchema, PaymentSchema, ReasonSchema
from web.schemas.common import PageArgs
from web.smorest import Blueprint

blp = Blueprint("payments", __name__, url_prefix="/api", description="The payments ledger of each case")


def utc_today() -> date:
    """Today in UTC: the day the collecting rules judge dates by."""
    return datetime.now(UTC).date()


@blp.route("/cases/<int:case_id>/payments", methods=["POST"])
@jwt_required()
@blp.arguments(NewPaymentSchema)
@blp.response(201, PaymentSchema, description="The payment, recorded and applied to the case")
@blp.alt_response(200, schema=PaymentSchema, success=True,
                  description="The same reference, amount and case again: the first payment; nothing is written")
@blp.alt_response(400, description="amount not > 0 or above the balance, paid_on in the future, or malformed input")
@blp.alt_response(403, description="An agent on a case not assigned to it")
@blp.alt_response(404, description="No such case")
@blp.alt_response(409, description="The bank already recorded this reference for another amount or case")
def record_payment(args, case_id: int):
    """Record a payment on the case; its balance, status and open promise follow.

    A payment that brings the balance to 0 resolves the case ("paid in full").
    """
    with unit_of_work() as uow:
        payment, created = ledger.record_payment(
            uow, case_id, viewer(), amount=args["amount"], paid_on=args["paid_on"], reference=args["reference"],
            method=PaymentMethod(args["method"]), today=utc_today(), terms=settings().promise_terms)
    return payment, 201 if created else 200


@blp.route("/cases/<int:case_id>/payments")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, PaymentPageSchema)
@blp.alt_response(404, description="No such case, or not the caller's")
def list_payments(args, case_id: int):
    """The case's payments, oldest first (reversed ones included, with reversed_at)."""
    after = decode_cursor(args["cursor"], strict_int)
    with reading() as uow:
        items = ledger.list_payments(uow, case_id, viewer(), after_id=after[0] if after else None,
                                     limit=args["limit"] + 1)
    return page(items, args["limit"], key=lambda payment: [payment.id])


@blp.route("/payments/<int:payment_id>/reverse", methods=["POST"])
@admin_required
@blp.arguments(ReasonSchema)
@blp.response(200, PaymentSchema)
@blp.alt_response(404, description="No such payment")
@blp.alt_response(409, description="The payment was already reversed")
def reverse_payment(args, payment_id: int):
    """Reverse a payment (admin): the case's recovery drops by its amount, and a case the
    payments had paid off is reopened (In Progress, same agent) when a balance is due again."""
    with unit_of_work() as uow:
        return ledger.reverse_payment(uow, payment_id, viewer(), reason=args["reason"],
                                      terms=settings().promise_terms)

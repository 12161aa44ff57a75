"""Collecting shapes: payments and promises to pay, what a client sends and gets back."""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from domain.case_rules import MAX_AMOUNT
from domain.payments import CLIENT_METHODS, MAX_REFERENCE_LENGTH, PaymentMethod
from web.schemas.cases import PromiseSchema, money, whole_cents
from web.schemas.common import StrictSchema, utc_datetime

MAX_REASON_LENGTH = 2000


def _storable(value: Decimal) -> None:
    if value > MAX_AMOUNT:  # NUMERIC(14,2); a Range validator would document its bound as a string
        raise ValidationError(f"must be at most {MAX_AMOUNT}")


def amount_in(description: str) -> fields.Decimal:
    """Money in: a JSON number or a string, at most 2 decimals; the rest of its range is the domain's."""
    return fields.Decimal(required=True, validate=[whole_cents, _storable],
                          metadata={"description": description + " A JSON number or a string, at most 2 decimals.",
                                    "example": "150.00"})


def reason() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=MAX_REASON_LENGTH))


class PaymentSchema(Schema):
    id = fields.Integer(required=True)
    case_id = fields.String(required=True, metadata={"description": "The bank's case id (the case's `case_id`)"})
    amount = money(required=True)
    paid_on = fields.Date(required=True)
    reference = fields.String(required=True)
    method = fields.Enum(PaymentMethod, by_value=True, required=True,
                         metadata={"description": "`settlement`: recorded by resolving the case with update-status"})
    reversed_at = utc_datetime()
    created_by = fields.Integer(allow_none=True)
    created_at = utc_datetime()


class PaymentPageSchema(Schema):
    items = fields.List(fields.Nested(PaymentSchema))
    next_cursor = fields.String(allow_none=True)


class NewPaymentSchema(StrictSchema):
    amount = amount_in("Greater than 0.00 and at most the case's balance.")
    paid_on = fields.Date(required=True, metadata={"description": "ISO date, not in the future (UTC)"})
    reference = fields.String(required=True, validate=validate.Length(min=1, max=MAX_REFERENCE_LENGTH),
                              metadata={"description": "Unique per bank: the same reference, amount and case "
                                                       "again answers 200 with the first payment"})
    method = fields.String(load_default=PaymentMethod.OTHER.value,
                           validate=validate.OneOf([m.value for m in CLIENT_METHODS]),
                           metadata={"description": "Default `other` (`settlement` is the workflow's own)"})


class ReasonSchema(StrictSchema):
    reason = reason()


class PromisePageSchema(Schema):
    items = fields.List(fields.Nested(PromiseSchema))
    next_cursor = fields.String(allow_none=True)


class NewPromiseSchema(StrictSchema):
    amount = amount_in("Greater than 0.00 and at most the case's balance.")
    due_date = fields.Date(required=True, metadata={
        "description": "ISO date from today to today + PROMISE_MAX_DAYS (default 30), UTC"})


class EvaluateSchema(StrictSchema):
    as_of = fields.Date(load_default=None, metadata={"description": "The day deciding; default today (UTC)"})

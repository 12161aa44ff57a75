"""Case shapes: the case resource, its history, the listing's query and the status change."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate

from domain.case_queries import PROMISE_FILTERS, SORTS
from domain.cases import CaseStatus, HistoryKind, Priority
from domain.promises import PromiseStatus
from domain.users import Team
from web.converters import MAX_ID
from web.schemas.assignment import MAX_DPD
from web.schemas.common import PageArgs, StrictSchema, utc_datetime

CENT = Decimal("0.01")


def money(**kwargs) -> fields.Decimal:
    """Money out: a JSON string with exactly two decimals."""
    return fields.Decimal(places=2, as_string=True, **kwargs)


def whole_cents(value: Decimal) -> None:
    """At most 2 decimals (and few enough digits to tell)."""
    try:
        exact = value == value.quantize(CENT)
    except InvalidOperation:  # more digits than any amount has
        raise ValidationError("not a valid amount") from None
    if not exact:
        raise ValidationError("at most 2 decimals")


class PromiseSchema(Schema):
    """A promise to pay (here, as the case resource shows its open one)."""

    id = fields.Integer(required=True)
    case_id = fields.String(required=True, metadata={"description": "The bank's case id (the case's `case_id`)"})
    amount = money(required=True)
    due_date = fields.Date(required=True)
    status = fields.Enum(PromiseStatus, by_value=True, required=True)
    paid = money(required=True, metadata={"description": "What counted toward it; frozen once it closed"})
    created_by = fields.Integer(allow_none=True)
    created_at = utc_datetime()
    closed_at = utc_datetime()


class CaseSchema(Schema):
    id = fields.Integer(required=True)
    case_id = fields.String(required=True)
    bank_code = fields.String(required=True)
    borrower_name = fields.String(required=True)
    loan_amount = money(required=True)
    due_amount = money(required=True)
    days_past_due = fields.Integer(required=True)
    priority = fields.Enum(Priority, by_value=True, required=True)
    region = fields.String(required=True)
    team = fields.Enum(Team, by_value=True, required=True)
    status = fields.Enum(CaseStatus, by_value=True, required=True)
    assigned_to = fields.Integer(allow_none=True)
    amount_recovered = money(allow_none=True, metadata={
        "description": "The sum of the case's payments not reversed; null while there is none"})
    version = fields.Integer(required=True)
    created_at = utc_datetime()
    updated_at = utc_datetime()
    resolved_at = utc_datetime()
    borrower_ref = fields.String(allow_none=True, metadata={
        "description": "The bank's customer id: cases with the same bank_code and borrower_ref are one person"})
    timezone = fields.String(allow_none=True, metadata={"description": "IANA name; null: the contact policy's default"})
    balance = money(required=True, metadata={"description": "due_amount − amount_recovered"})
    promise = fields.Nested(PromiseSchema, allow_none=True, metadata={"description": "The open promise, or null"})
    on_hold = fields.Boolean(required=True, metadata={
        "description": "An active hold covers the case or its borrower"})


class CasePageSchema(Schema):
    items = fields.List(fields.Nested(CaseSchema))
    next_cursor = fields.String(allow_none=True)


class CaseListArgs(PageArgs):
    assigned_to = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    unassigned = fields.Boolean(metadata={"description": "true: unassigned cases only; false: assigned only"})
    status = fields.Enum(CaseStatus, by_value=True)
    team = fields.Enum(Team, by_value=True)
    bank_code = fields.String(validate=validate.Length(min=1, max=64))
    region = fields.String(validate=validate.Length(min=1, max=128))
    priority = fields.Enum(Priority, by_value=True)
    min_dpd = fields.Integer(validate=validate.Range(min=0, max=MAX_DPD))
    max_dpd = fields.Integer(validate=validate.Range(min=0, max=MAX_DPD))
    q = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "case_id prefix"})
    borrower = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "Words of the borrower's name: all must match, in any order, whatever their case and "
                       "accents (`jose nunez` finds José Núñez)"})
    borrower_ref = fields.String(validate=validate.Length(min=1, max=64),
                                 metadata={"description": "The bank's customer id (exact)"})
    sort = fields.String(load_default="id", validate=validate.OneOf(SORTS), metadata={
        "description": "A field, descending with a leading `-`; then id in the same direction. `priority` "
                       "sorts by rank: Low < Medium < High < Critical"})
    promise = fields.String(validate=validate.OneOf([s.value for s in PROMISE_FILTERS]),
                            metadata={"description": "The status of the case's latest promise"})
    on_hold = fields.Boolean(metadata={"description": "true: cases an active hold covers; false: the others"})


class StatusUpdateSchema(StrictSchema):
    status = fields.Enum(CaseStatus, by_value=True, required=True)
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    # the range (the payments so far to the due amount, Resolved only) is the workflow's rule: domain/workflow.py
    amount_recovered = fields.Decimal(
        load_default=None, allow_none=True, validate=whole_cents,
        metadata={"description": "only with status Resolved; default the due amount; the case's payments so far "
                                 "≤ x ≤ due_amount, the difference recorded as one payment of method `settlement`. "
                                 "A JSON number or a string."},
    )


_HISTORY_VALUES = ("status: a status; assignment: a user id (null: nobody); payment: its amount, in `to` "
                   "when recorded and in `from` when reversed; promise: null → open when taken, open → kept, "
                   "partial, broken or cancelled when closed; contact: 'channel direction: outcome' in `to`; hold: its "
                   "type, in `to` when placed and in `from` when lifted")


class HistoryEntrySchema(Schema):
    at = utc_datetime()
    by = fields.Integer(allow_none=True)
    kind = fields.Enum(HistoryKind, by_value=True, required=True)
    from_ = fields.Raw(data_key="from", attribute="from_value", allow_none=True,
                       metadata={"description": _HISTORY_VALUES})
    to = fields.Raw(attribute="to_value", allow_none=True, metadata={"description": _HISTORY_VALUES})
    comment = fields.String(allow_none=True)

"""Case shapes: the case resource, its history, the listing's query and the status change."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, validate

from domain.case_queries import SORTS
from domain.cases import CaseStatus, HistoryKind, Priority
from domain.users import Team
from web.converters import MAX_ID
from web.schemas.assignment import MAX_DPD
from web.schemas.common import PageArgs, StrictSchema, utc_datetime

CENT = Decimal("0.01")


def money(**kwargs) -> fields.Decimal:
    """Money out: a JSON string with exactly two decimals."""
    return fields.Decimal(places=2, as_string=True, **kwargs)


def _whole_cents(value: Decimal) -> None:
    try:
        exact = value == value.quantize(CENT)
    except InvalidOperation:  # more digits than any amount has
        raise ValidationError("not a valid amount") from None
    if not exact:
        raise ValidationError("at most 2 decimals")


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
    amount_recovered = money(allow_none=True, metadata={"description": "null unless the case is Resolved"})
    version = fields.Integer(required=True)
    created_at = utc_datetime()
    updated_at = utc_datetime()
    resolved_at = utc_datetime()


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
    sort = fields.String(load_default="id", validate=validate.OneOf(SORTS))


class StatusUpdateSchema(StrictSchema):
    status = fields.Enum(CaseStatus, by_value=True, required=True)
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    # the range (0 to the due amount, Resolved only) is the workflow's rule: domain/workflow.py
    amount_recovered = fields.Decimal(
        load_default=None, allow_none=True, validate=_whole_cents,
        metadata={"description": "only with status Resolved; default the due amount; 0 ≤ x ≤ due_amount. "
                                 "A JSON number or a string."},
    )


class HistoryEntrySchema(Schema):
    at = utc_datetime()
    by = fields.Integer(allow_none=True)
    kind = fields.Enum(HistoryKind, by_value=True, required=True)
    from_ = fields.Raw(data_key="from", attribute="from_value", allow_none=True,
                       metadata={"description": "a status, or for kind assignment a user id (null: nobody)"})
    to = fields.Raw(attribute="to_value", allow_none=True,
                    metadata={"description": "a status, or for kind assignment a user id (null: nobody)"})
    comment = fields.String(allow_none=True)

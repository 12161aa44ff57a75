"""Contact shapes: contacts, the eligibility answer, holds and the contact policy."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.contact_policy import Channel, Direction, HoldType, Outcome, Reason
from domain.contacts import MAX_NOTE_LENGTH
from domain.holds import HoldScope
from web.schemas.collecting import MAX_REASON_LENGTH, reason
from web.schemas.common import PageArgs, StrictSchema, utc_datetime

_RIGHT_PARTY = ", ".join(o.value for o in Outcome if o.right_party)


class ContactSchema(Schema):
    id = fields.Integer(required=True)
    case_id = fields.String(required=True, metadata={"description": "The bank's case id (the case's `case_id`)"})
    channel = fields.Enum(Channel, by_value=True, required=True)
    direction = fields.Enum(Direction, by_value=True, required=True)
    outcome = fields.Enum(Outcome, by_value=True, required=True)
    at = utc_datetime()
    right_party = fields.Boolean(required=True,
                                 metadata={"description": f"A conversation with the person: {_RIGHT_PARTY}"})
    policy_violations = fields.List(fields.Enum(Reason, by_value=True), required=True, metadata={
        "description": "The rules the contact broke: a reported one's, or those an admin overrode"})
    by = fields.Integer(allow_none=True, attribute="created_by")
    note = fields.String(allow_none=True)
    override_reason = fields.String(allow_none=True)
    reported = fields.Boolean(required=True, metadata={"description": "A report of a past contact (sent with `at`)"})


class ContactPageSchema(Schema):
    items = fields.List(fields.Nested(ContactSchema))
    next_cursor = fields.String(allow_none=True)


class NewContactSchema(StrictSchema):
    channel = fields.Enum(Channel, by_value=True, required=True)
    direction = fields.Enum(Direction, by_value=True, required=True)
    outcome = fields.Enum(Outcome, by_value=True, required=True)
    at = fields.AwareDateTime(format="iso", default_timezone=None, load_default=None, metadata={
        "description": "When it happened (a report, always recorded); absent: the contact is being made now "
                       "and the policy checks it. With a UTC offset; not in the future."})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_NOTE_LENGTH))
    override_reason = fields.String(load_default=None, validate=validate.Length(min=1, max=MAX_REASON_LENGTH),
                                    metadata={"description": "Admin only: make the contact although the policy "
                                                             "forbids it; recorded with it"})


class EligibilityArgs(Schema):
    channel = fields.Enum(Channel, by_value=True, load_default=Channel.CALL)
    at = fields.AwareDateTime(format="iso", default_timezone=None, load_default=None,
                              metadata={"description": "The instant asked about, with offset; default now"})


class EligibilitySchema(Schema):
    allowed = fields.Boolean(required=True)
    reasons = fields.List(fields.Enum(Reason, by_value=True), required=True,
                          metadata={"description": "Every rule that forbids the contact at that instant"})
    next_allowed_at = utc_datetime()


class HoldSchema(Schema):
    id = fields.Integer(required=True)
    case_id = fields.String(required=True)
    borrower_ref = fields.String(allow_none=True)
    scope = fields.Enum(HoldScope, by_value=True, required=True)
    type = fields.Enum(HoldType, by_value=True, required=True)
    reason = fields.String(required=True)
    until = fields.Date(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_at = utc_datetime()
    lifted_at = utc_datetime()
    lifted_by = fields.Integer(allow_none=True)
    lift_reason = fields.String(allow_none=True)


class HoldPageSchema(Schema):
    items = fields.List(fields.Nested(HoldSchema))
    next_cursor = fields.String(allow_none=True)


class NewHoldSchema(StrictSchema):
    type = fields.Enum(HoldType, by_value=True, required=True)
    reason = reason()
    until = fields.Date(load_default=None, metadata={"description": "A pause's last day (required, after today)"})
    scope = fields.Enum(HoldScope, by_value=True, load_default=None, metadata={
        "description": "Default: borrower for cease, bankruptcy and attorney; case for dispute and pause"})


class HoldListArgs(PageArgs):
    active = fields.Boolean(load_default=None, metadata={"description": "true: active only; false: lifted only"})


class PolicySettingsSchema(StrictSchema):
    timezone_default = fields.String(metadata={"example": "America/New_York"})
    window_start = fields.String(metadata={"description": "HH:MM, local to the borrower", "example": "08:00"})
    window_end = fields.String(metadata={"description": "HH:MM, exclusive", "example": "21:00"})
    calls_per_7_days = fields.Integer(strict=True, metadata={"example": 7})
    days_after_conversation = fields.Integer(strict=True, metadata={"example": 7})


class ContactPolicySchema(PolicySettingsSchema):
    """The policy in force; in a PUT, settings left out take their defaults (the raw values are checked
    by the domain: domain.contact_settings)."""

    by_bank = fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "Per bank_code, any of the settings above", "example": {"BANKX": {"window_end": "19:00"}}})


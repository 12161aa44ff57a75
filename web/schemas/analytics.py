"""Analytics shapes: the summary exactly as API.md words it."""
from __future__ import annotations

from marshmallow import Schema, fields

from domain.analytics import AGING_BUCKETS, COLLECTING_WINDOW_DAYS, RATE_PLACES, UNASSIGNED
from domain.cases import CaseStatus
from domain.users import Team


def _money(description: str) -> fields.String:
    return fields.String(required=True, metadata={"description": description, "example": "13404.00"})


def _keyed(name: str, keys, field_factory) -> type[Schema]:
    """An object schema whose keys are data (statuses, buckets) rather than identifiers."""
    return Schema.from_dict({key: field_factory(data_key=key, attribute=key) for key in keys},
                            name=name)


class TeamFiguresSchema(Schema):
    open = fields.Integer(required=True, metadata={"description": "Cases not Resolved"})
    total = fields.Integer(required=True)


class AgentFiguresSchema(Schema):
    user_id = fields.Integer(required=True)
    name = fields.String(required=True)
    team = fields.String(required=True, metadata={"enum": [t.value for t in Team]})
    open = fields.Integer(required=True, metadata={"description": "Assigned cases not Resolved"})
    resolved = fields.Integer(required=True, metadata={"description": "Assigned cases Resolved"})


def _count(**kwargs) -> fields.Integer:
    return fields.Integer(required=True, **kwargs)


ByStatusSchema = _keyed("ByStatusSchema", [s.value for s in CaseStatus], _count)
AgingSchema = _keyed("AgingSchema", [label for label, _ in AGING_BUCKETS], _count)
PerTeamSchema = _keyed("PerTeamSchema", [t.value for t in Team] + [UNASSIGNED],
                       lambda **kwargs: fields.Nested(TeamFiguresSchema, required=True, **kwargs))


_WINDOW = f"the last {COLLECTING_WINDOW_DAYS} days to as_of"
_RATE_DECIMALS = -RATE_PLACES.as_tuple().exponent


class PaymentFiguresSchema(Schema):
    count = fields.Integer(required=True, metadata={
        "description": f"Payments not reversed whose paid_on is one of {_WINDOW} (as_of's UTC day included, "
                       f"the day {COLLECTING_WINDOW_DAYS} days before it not)"})
    amount = _money("Sum of those payments' amounts")


class PromiseFiguresSchema(Schema):
    open = fields.Integer(required=True, metadata={"description": "Promises open at as_of, whenever taken"})
    kept = fields.Integer(required=True, metadata={"description": f"Promises closed kept in {_WINDOW}"})
    partial = fields.Integer(required=True, metadata={"description": f"Promises closed partial in {_WINDOW}"})
    broken = fields.Integer(required=True, metadata={"description": f"Promises closed broken in {_WINDOW}"})
    kept_rate = fields.Float(required=True, allow_none=True, metadata={
        "description": f"kept / (kept + partial + broken), rounded half up to {_RATE_DECIMALS} decimals; null when "
                       "no promise closed so in the window (no data, never 0). Cancelled promises do not count",
        "example": 0.6667})


class ContactFiguresSchema(Schema):
    attempts = fields.Integer(required=True, metadata={"description": f"Outbound contacts made (`at`) in {_WINDOW}"})
    right_party = fields.Integer(required=True, metadata={
        "description": "Those of them that reached the person (conversation, promise_taken, dispute_raised, refused, "
                       "cease_requested)"})
    right_party_rate = fields.Float(required=True, allow_none=True, metadata={
        "description": f"right_party / attempts, rounded half up to {_RATE_DECIMALS} decimals; null without attempts",
        "example": 0.25})


class HoldFiguresSchema(Schema):
    dispute = fields.Integer(required=True)
    cease = fields.Integer(required=True)
    bankruptcy = fields.Integer(required=True)
    attorney = fields.Integer(required=True)
    pause = fields.Integer(required=True)


class CollectingSchema(Schema):
    payments = fields.Nested(PaymentFiguresSchema, required=True)
    promises = fields.Nested(PromiseFiguresSchema, required=True)
    contacts = fields.Nested(ContactFiguresSchema, metadata={"description": "Absent in snapshots taken before v2.1"})
    holds = fields.Nested(HoldFiguresSchema, metadata={"description": f"Holds placed in {_WINDOW}, per type"})
    policy_violations = fields.Integer(metadata={
        "description": f"Contacts made in {_WINDOW} recorded with at least one rule broken (reported ones the "
                       "policy flagged, and those an admin made against it)"})


class SummarySchema(Schema):
    as_of = fields.String(required=True, metadata={
        "format": "date-time",
        "description": "When the snapshot was taken: every change committed before it is counted"})
    total_cases = fields.Integer(required=True)
    by_status = fields.Nested(ByStatusSchema, required=True,
                              metadata={"description": "Cases per status; all four statuses, zeros included"})
    avg_resolution_days = fields.Float(allow_none=True, required=True, metadata={
        "description": "Mean over Resolved cases of (resolved_at − created_at), in days; null when none "
                       "is resolved (a reopened case is not Resolved)"})
    per_team = fields.Nested(PerTeamSchema, required=True, metadata={
        "description": "call_center, field, legal: cases routed to the team by their current days past due "
                       "and the current routing bands (total) and those not Resolved (open). unassigned: "
                       "the same counts over cases with no agent (assigned_to null) whatever their team — "
                       "its open count is the backlog of the next assignment run; it overlaps the teams."})
    per_agent = fields.List(fields.Nested(AgentFiguresSchema), required=True, metadata={
        "description": "Every user with a team, by team then name: active agents even with no case, "
                       "deactivated ones while cases still name them"})
    total_due_amount = _money("Sum of due_amount over all cases")
    total_recovered = _money("Sum of amount_recovered over Resolved cases")
    recovery_rate = fields.Float(required=True, metadata={
        "description": "total_recovered / total_due_amount over all cases; 0 when there are none"})
    aging = fields.Nested(AgingSchema, required=True, metadata={"description": "Open cases per days-past-due bucket"})
    collecting = fields.Nested(CollectingSchema, required=True, metadata={
        "description": f"The ledger and the promises over {_WINDOW}: an instant counts when it is after "
                       f"as_of − {COLLECTING_WINDOW_DAYS} days and not after as_of"})

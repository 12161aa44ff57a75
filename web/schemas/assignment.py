"""Assignment shapes: the run request and the routing bands."""
from __future__ import annotations

from marshmallow import fields, post_load, validate

from domain.routing import Band
from domain.users import Team
from web.schemas.common import StrictSchema

MAX_DPD = 2**31 - 1  # the column is an integer


class AssignRequestSchema(StrictSchema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "Compute and report the plan, write nothing"})


class BandSchema(StrictSchema):
    team = fields.Enum(Team, by_value=True, required=True)
    max_dpd = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=0, max=MAX_DPD),
                             metadata={"description": "Highest DPD of the band; null: unbounded (last band only)"})

    @post_load
    def to_band(self, data, **_):
        return Band(data["team"], data["max_dpd"])


class RulesSchema(StrictSchema):
    bands = fields.List(fields.Nested(BandSchema), required=True, validate=validate.Length(max=100),
                        metadata={"description": "Increasing max_dpd; the last band unbounded"})


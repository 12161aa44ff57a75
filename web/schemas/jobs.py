"""Job shapes."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from domain.jobs import JobState, JobType
from web.schemas.common import PageArgs, utc_datetime


class ProgressSchema(Schema):
    done = fields.Integer(required=True)
    total = fields.Integer(allow_none=True)


class JobErrorSchema(Schema):
    title = fields.String()
    detail = fields.String()


class JobSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.Function(lambda j: j.type.value, required=True)
    state = fields.Function(lambda j: j.state.value, required=True)
    progress = fields.Function(lambda j: {"done": j.progress_done, "total": j.progress_total},
                               metadata={"type": "object"})
    params = fields.Dict()
    result = fields.Dict(allow_none=True)
    error = fields.Nested(JobErrorSchema, allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_at = utc_datetime()
    started_at = utc_datetime()
    finished_at = utc_datetime()


class JobListArgs(PageArgs):
    type = fields.String(validate=validate.OneOf([t.value for t in JobType]))
    state = fields.String(validate=validate.OneOf([s.value for s in JobState]))


class JobPageSchema(Schema):
    items = fields.List(fields.Nested(JobSchema))
    next_cursor = fields.String(allow_none=True)

"""Shapes shared by several resources."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class StrictSchema(Schema):
    """Input schemas refuse unknown fields (no mass assignment)."""

    class Meta:
        unknown = "raise"


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadySchema(Schema):
    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())
    workers = fields.Integer()
    queues = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "Messages waiting in each Celery queue"})


class PageArgs(StrictSchema):
    """The `limit` and `cursor` of every list (keyset pagination)."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def utc_datetime():
    """ISO 8601 with offset, as the contract wants."""
    return fields.AwareDateTime(format="iso", default_timezone=None, allow_none=True)

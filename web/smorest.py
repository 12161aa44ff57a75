"""flask-smorest, tuned to the contract: strict arguments everywhere, errors documented as problem+json."""
from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import BadRequest

from web.errors import PROBLEM_JSON
from web.schemas.common import ProblemSchema


class ArgumentsParser(FlaskParser):
    """webargs' parser, refusing text that PostgreSQL cannot store — a NUL character, or a lone
    surrogate from a `\\ud800`-style JSON escape — with a 400 rather than a 500 from the driver."""

    def _load_location_data(self, *, schema, req, location):
        data = super()._load_location_data(schema=schema, req=req, location=location)
        raw = req.args.to_dict(flat=False) if location == "query" else data
        if location in ("query", "json") and _unstorable(raw):
            raise BadRequest("text holding a NUL character or a lone surrogate cannot be stored")
        return data


def _unstorable(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and _lone_surrogate(value))
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(item) for item in value)
    return False


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Blueprint(flask_smorest.Blueprint):
    """A Blueprint whose schemas decide about unknown fields in every location.

    webargs silently drops unknown query parameters by default; StrictSchema refuses them.
    """

    ARGUMENTS_PARSER = ArgumentsParser(unknown=None)


class Api(flask_smorest.Api):
    """The Api whose OpenAPI document describes errors as they are sent (RFC 9457)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON  # only while error responses register
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE

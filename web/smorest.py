"""flask-smorest, tuned to the contract: strict arguments everywhere, errors documented as problem+json."""
from __future__ import annotations

import flask_smorest
from webargs.flaskparser import FlaskParser

from web.errors import PROBLEM_JSON
from web.schemas.common import ProblemSchema


class Blueprint(flask_smorest.Blueprint):
    """A Blueprint whose schemas decide about unknown fields in every location.

    webargs silently drops unknown query parameters by default; StrictSchema refuses them.
    """

    ARGUMENTS_PARSER = FlaskParser(unknown=None)


class Api(flask_smorest.Api):
    """The Api whose OpenAPI document describes errors as they are sent (RFC 9457)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_JSON  # only while error responses register
        try:
            super()._register_responses()
        finally:
            del self.DEFAULT_RESPONSE_CONTENT_TYPE

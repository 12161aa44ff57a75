"""One place that turns every error into RFC 9457 problem+json — never HTML, never a trace."""
from __future__ import annotations

import logging

import redis
import sqlalchemy.exc
from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from domain import errors as domain_errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
UNAVAILABLE_RETRY_AFTER_SECONDS = 5

_DOMAIN_STATUS = {
    domain_errors.InvalidInput: 400,
    domain_errors.Unauthorized: 401,
    domain_errors.Forbidden: 403,
    domain_errors.NotFound: 404,
    domain_errors.Conflict: 409,
    domain_errors.PreconditionFailed: 412,
}


def problem(status: int, title: str, detail: str | None = None, errors: dict | None = None,
            headers: dict | None = None, members: dict | None = None) -> Response:
    """A problem+json response; `members`: extension members beside the standard ones."""
    body = {**(members or {}), "type": "about:blank", "title": title, "status": status, "detail": detail or title}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_messages(messages) -> dict[str, list[str]]:
    """webargs reports errors by location ({"json": {"field": [...]}}); clients want fields."""
    flat: dict[str, list[str]] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                key = "_" if key == "_schema" else str(key)
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "_", []).extend(value)
        else:
            flat.setdefault(prefix or "_", []).append(str(value))

    for location_messages in (messages or {}).values():
        walk("", location_messages)
    return flat


def handle_http_exception(exc: HTTPException) -> Response:
    data = getattr(exc, "data", None) or {}
    if exc.code == 422 and "messages" in data:  # webargs / marshmallow validation
        return problem(400, "Invalid input", "the request did not pass validation",
                       errors=_flatten_messages(data["messages"]))
    headers = {}
    if exc.code == 405 and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    if exc.code == 429:
        response = exc.get_response()
        if "Retry-After" in response.headers:
            headers["Retry-After"] = response.headers["Retry-After"]
    detail = exc.description if isinstance(exc.description, str) else None
    return problem(exc.code or 500, exc.name, detail, headers=headers)


def handle_domain_error(exc: domain_errors.DomainError) -> Response:
    status = next((code for kind, code in _DOMAIN_STATUS.items() if isinstance(exc, kind)), 400)
    return problem(status, exc.title, exc.detail, errors=exc.errors, members=exc.members)


def handle_unavailable(exc: Exception) -> Response:
    """PostgreSQL or Redis did not answer: a retryable 503, not a 500 (tokens cannot even be
    checked against the revocation list, so nothing is let through unchecked)."""
    log.warning("a backing service is unavailable", extra={"error": type(exc).__name__})
    return problem(503, "Service Unavailable", "a backing service did not answer; try again shortly",
                   headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)})


def handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest, so these win)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(domain_errors.DomainError, handle_domain_error)
    for unavailable in (redis.ConnectionError, redis.TimeoutError, sqlalchemy.exc.OperationalError):
        app.register_error_handler(unavailable, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)

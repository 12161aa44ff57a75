"""Request logs: a request id per request, the user once known, and one line per request served.

The request id is the caller's `X-Request-ID` when it is sane, else a new one, and is echoed in
the response. The lines are written as dcoe/logs.py formats them (JSON, or text on a terminal).
"""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, has_app_context, request

from dcoe.logs import bind, bound, clear, configure

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_log = logging.getLogger("dcoe.request")


def init_app(app: Flask) -> None:
    """Logs for a Flask app: a request id per request and a line per request served."""
    settings = app.extensions["dcoe"].settings
    configure(settings.log_level, provider=_web_user, log_format=settings.log_format)

    @app.before_request
    def _start_request() -> None:
        clear()
        supplied = request.headers.get("X-Request-ID", "")
        # a caller's id is kept so its logs and ours join up, unless it could forge log lines
        bind(request_id=supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex)
        g.dcoe_log_started = time.perf_counter()

    @app.after_request
    def _finish_request(response):
        request_id = bound().get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        started = g.get("dcoe_log_started")
        request_log.info("request", extra={
            "method": request.method,
            "path": request.path,  # ids only; the query string may carry search terms
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        })
        return response

    app.teardown_request(lambda _exc: clear())


def _web_user() -> dict:
    """The authenticated user's id, once the token was checked in this request."""
    user = g.get("dcoe_user") if has_app_context() else None
    return {"user_id": user.id} if user is not None else {}

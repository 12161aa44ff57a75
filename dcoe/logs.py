"""Structured logs: one JSON object a line, with the request, job and user it concerns.

The web binds a request id (the caller's `X-Request-ID` when it is sane, else a new one, echoed
in the response) and the user id once the token is checked; the worker binds the job id and the
task for the time a task runs. Every record created meanwhile carries them, whichever handler
writes it. No personal data: fields named like secrets or personal details are redacted, and
nothing here logs bodies, query strings or headers.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Callable

_context: ContextVar[dict] = ContextVar("dcoe_log_context", default={})
_providers: list[Callable[[], dict]] = []  # more context, asked for at each record (the web's user)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# A field whose name contains one of these is never written, whoever passes it: credentials and
# the personal details of borrowers and users.
REDACTED = ("password", "token", "secret", "authorization", "cookie", "borrower", "email")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def bind(**values) -> None:
    """Add fields to every record logged from here on in this context (thread, task)."""
    _context.set({**_context.get(), **values})


def clear() -> None:
    """Forget the bound fields (end of a request or a task)."""
    _context.set({})


def bound() -> dict:
    """The fields bound in this context."""
    return dict(_context.get())


def install_context(provider: Callable[[], dict] | None = None) -> None:
    """Make every new record carry the bound context, and what `provider` adds to it."""
    # kept in one private attribute, not as fields: the logging module refuses an `extra=` that
    # names an attribute the record already has, and a call may well pass job_id itself
    if provider is not None and provider not in _providers:
        _providers.append(provider)
    create = logging.getLogRecordFactory()
    if getattr(create, "dcoe_context", False):
        return

    def record_with_context(*args, **kwargs) -> logging.LogRecord:
        record = create(*args, **kwargs)
        context = bound()
        for provide in _providers:
            context.update(provide())
        record._dcoe_context = context
        return record

    record_with_context.dcoe_context = True
    logging.setLogRecordFactory(record_with_context)


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, then the context and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "_dcoe_context", {}),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_"))
        for key in entry:
            if any(word in key.lower() for word in REDACTED):
                entry[key] = "[redacted]"
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is at each record: test runners and servers replace it."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def json_handler(stream=None) -> logging.Handler:
    """A handler writing JSON lines to `stream` (default: sys.stderr)."""
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.setFormatter(JsonFormatter())
    return handler


def configure(level: str | int = "INFO", provider: Callable[[], dict] | None = None) -> None:
    """JSON logs with the context on stderr from the root logger; again, it only sets the level."""
    install_context(provider)
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(h, _Stderr) for h in root.handlers):
        root.addHandler(json_handler())


# --- the web -------------------------------------------------------------------------------------

def init_app(app) -> None:
    """JSON logs for a Flask app: a request id per request and a line per request served."""
    from flask import g, request

    configure(app.extensions["dcoe"].settings.log_level, provider=_web_user)
    request_log = logging.getLogger("dcoe.request")

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
    from flask import g, has_app_context

    user = g.get("dcoe_user") if has_app_context() else None
    return {"user_id": user.id} if user is not None else {}


# --- the worker ----------------------------------------------------------------------------------

def init_worker() -> None:
    """JSON logs for Celery workers and beat; a job's task logs with the job's id."""
    from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun

    from dcoe.queue import TASK_FOR_JOB

    job_tasks = frozenset(name for name, _queue in TASK_FOR_JOB.values())  # their first argument is the job id
    install_context()

    def use_json(logger=None, **_) -> None:
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())

    def start_task(task_id=None, task=None, args=None, **_) -> None:
        clear()
        fields = {"task": task.name, "task_id": task_id}
        if task.name in job_tasks and args:
            fields["job_id"] = str(args[0])
        bind(**fields)

    after_setup_logger.connect(use_json, weak=False)
    after_setup_task_logger.connect(use_json, weak=False)
    task_prerun.connect(start_task, weak=False)
    task_postrun.connect(lambda **_: clear(), weak=False)

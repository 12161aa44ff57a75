"""Logs with the request, job and user they concern: JSON lines for machines, short lines for people.

The web binds a request id and the user (web/request_logs.py), the worker the job id and the task
(worker/logs.py); every record created meanwhile carries them, whichever handler writes it. A
terminal gets one human line per record, anything else one JSON object per line (LOG_FORMAT
overrides). No personal data in either: fields named like secrets or personal details are
redacted, and nothing here logs bodies, query strings or headers.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

_context: ContextVar[dict] = ContextVar("dcoe_log_context", default={})  # noqa: B039 - bind() sets a new dict
_providers: list[Callable[[], dict]] = []  # more context, asked for at each record (the web's user)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
# A field whose name contains one of these is never written, whoever passes it: credentials and
# the personal details of borrowers and users.
REDACTED = ("password", "token", "secret", "authorization", "cookie", "borrower", "email")
LOG_FORMATS = ("auto", "json", "text")  # auto: text on a terminal, JSON anywhere else


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


def fields(record: logging.LogRecord) -> dict:
    """The record's bound context and `extra=` fields, those named like a secret redacted."""
    entry = dict(getattr(record, "_dcoe_context", {}))
    entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_"))
    return {key: "[redacted]" if any(word in key.lower() for word in REDACTED) else value
            for key, value in entry.items()}


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, then the context and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(fields(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# The text form: a request's fields lead, bare, in this order (GET /api/cases 200 12.3ms), without
# its `route` (a metrics label; the path says it) ...
_REQUEST = ("method", "path", "status", "duration_ms")
# ... and these are renamed to be short.
_SHORT = {"request_id": "req", "user_id": "user", "job_id": "job"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BARE = re.compile(r"[^\s\"'=\\\x00-\x1f\x7f]+")


class TextFormatter(logging.Formatter):
    """A record as one short line for a person: local time, level, message, then key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        extra = fields(record)
        parts = [datetime.fromtimestamp(record.created).strftime("%H:%M:%S"), f"{record.levelname:<5}",
                 _escape(record.getMessage())]
        if "method" in extra and "path" in extra:
            extra.pop("route", None)
            for key in _REQUEST:
                value = extra.pop(key, None)
                if key == "duration_ms" and isinstance(value, (int, float)):
                    parts.append(f"{value:.1f}ms")
                elif value is not None:
                    parts.append(_value(value))
        parts += [f"{_SHORT.get(key, key)}={_value(value)}" for key, value in extra.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _escape(text: str) -> str:
    """Control characters written as escapes: one record, one line, whatever a message holds."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def _value(value) -> str:
    """A field's value, bare when it is one plain word, else quoted like a JSON string."""
    text = "-" if value is None else str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def formatter(log_format: str, stream) -> logging.Formatter:
    """The formatter for LOG_FORMAT: `auto` is text when `stream` is a terminal, JSON otherwise."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    if log_format == "auto":
        log_format = "text" if _is_terminal(stream) else "json"
    return TextFormatter() if log_format == "text" else JsonFormatter()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no stream, a closed one, or not a file at all
        return False


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


def handler(log_format: str = "auto", stream=None) -> logging.Handler:
    """A handler writing to `stream` (default: sys.stderr) in LOG_FORMAT `log_format`."""
    written = logging.StreamHandler(stream) if stream is not None else _Stderr()
    written.setFormatter(formatter(log_format, written.stream))
    return written


def json_handler(stream=None) -> logging.Handler:
    """A handler writing JSON lines to `stream` (default: sys.stderr)."""
    return handler("json", stream)


def configure(level: str | int = "INFO", provider: Callable[[], dict] | None = None,
              log_format: str = "auto") -> None:
    """Logs with the context on stderr from the root logger; again, it sets the level and format."""
    install_context(provider)
    root = logging.getLogger()
    root.setLevel(level)
    stderr = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if stderr is None:
        root.addHandler(handler(log_format))
    else:  # `auto` asks the stderr of now: a test runner or a server may have replaced it since
        stderr.setFormatter(formatter(log_format, stderr.stream))

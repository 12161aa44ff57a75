"""Logs: one JSON object a line (or a short text line on a terminal), the bound context on it, no
secrets or personal data in either form."""
from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest

from dcoe import logs
from worker.logs import format_handlers


@pytest.fixture
def capture():
    """A logger writing through the JSON handler into a buffer; returns (logger, lines())."""
    logs.install_context()
    buffer = io.StringIO()
    logger = logging.getLogger(f"test.logs.{id(buffer)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logs.json_handler(buffer))
    yield logger, lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logs.clear()


def test_a_record_is_one_json_line_with_time_level_logger_and_message(capture):
    logger, lines = capture

    logger.warning("upload of %d rows", 12, extra={"rows": 12})

    (entry,) = lines()
    assert entry["level"] == "WARNING" and entry["message"] == "upload of 12 rows" and entry["rows"] == 12
    assert entry["logger"] == logger.name
    assert entry["ts"].endswith("+00:00")


def test_bound_fields_join_every_record_until_cleared(capture):
    logger, lines = capture

    logs.bind(request_id="r-1", job_id="j-1")
    logger.info("inside")
    logs.clear()
    logger.info("outside")

    inside, outside = lines()
    assert (inside["request_id"], inside["job_id"]) == ("r-1", "j-1")
    assert "request_id" not in outside and "job_id" not in outside


def test_secrets_and_personal_details_are_redacted_whoever_passes_them(capture):
    logger, lines = capture

    logger.info("login", extra={"password": "hunter2", "access_token": "eyJ", "borrower_name": "Asha Rao",
                                "user_email": "asha@example.com", "user_id": 7})

    (entry,) = lines()
    assert "hunter2" not in json.dumps(entry) and "Asha Rao" not in json.dumps(entry)
    assert entry["password"] == entry["access_token"] == entry["borrower_name"] == entry["user_email"] == "[redacted]"
    assert entry["user_id"] == 7


def test_an_exception_is_kept_inside_the_json_line(capture):
    logger, lines = capture

    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")

    (entry,) = lines()
    assert entry["message"] == "failed"
    assert "ValueError: boom" in entry["exc"]


# --- the text form, for a person at a terminal -----------------------------------------------------

class Terminal(io.StringIO):
    """A buffer that says it is a terminal, as sys.stderr does in an operator's shell."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def text_capture():
    """A logger writing through a handler in LOG_FORMAT=auto to a terminal; returns (logger, lines())."""
    logs.install_context()
    terminal = Terminal()
    logger = logging.getLogger(f"test.logs.text.{id(terminal)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logs.handler("auto", terminal))
    yield logger, lambda: terminal.getvalue().splitlines()
    logs.clear()


def test_a_request_is_one_short_line_with_method_path_status_duration_and_context(text_capture):
    logger, lines = text_capture

    logs.bind(request_id="ab12cd", user_id=3)
    logger.info("request", extra={"method": "GET", "path": "/api/cases", "route": "/api/cases", "status": 200,
                                  "duration_ms": 12.34})

    (line,) = lines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO  request GET /api/cases 200 12\.3ms req=ab12cd user=3", line)


def test_a_job_line_names_the_job_and_the_task(text_capture):
    logger, lines = text_capture

    logs.bind(task="ingest.run", task_id="t-1", job_id="0b5c-77")
    logger.warning("job succeeded", extra={"job_type": "ingest"})

    (line,) = lines()
    assert line.endswith(" WARNING job succeeded task=ingest.run task_id=t-1 job=0b5c-77 job_type=ingest")


def test_secrets_and_personal_details_are_redacted_in_the_text_form_too(text_capture):
    logger, lines = text_capture

    logger.info("login", extra={"password": "hunter2", "access_token": "eyJ", "borrower_name": "Asha Rao",
                                "user_email": "asha@example.com", "Authorization": "Bearer eyJ", "user_id": 7})

    (line,) = lines()
    for secret in ("hunter2", "eyJ", "Asha", "asha@example.com"):
        assert secret not in line
    for key in ("password", "access_token", "borrower_name", "user_email", "Authorization"):
        assert f" {key}=[redacted]" in line
    assert line.endswith(" user=7")


def test_a_message_or_value_cannot_forge_a_second_line(text_capture):
    logger, lines = text_capture

    logger.info("bad\n12:00:00 ERROR  forged", extra={"note": "two words\nINFO x=1", "empty": "", "none": None})

    (line,) = lines()
    assert "bad\\n12:00:00 ERROR  forged" in line
    assert ' note="two words\\nINFO x=1" empty="" none=-' in line


def test_an_exception_follows_its_text_line(text_capture):
    logger, lines = text_capture

    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")

    first, *trace = lines()
    assert first.endswith(" ERROR failed") and trace[-1] == "ValueError: boom"


@pytest.mark.parametrize("log_format, stream, expected", [
    ("auto", Terminal(), logs.TextFormatter),
    ("auto", io.StringIO(), logs.JsonFormatter),  # a file, a pipe, a container's log
    ("auto", None, logs.JsonFormatter),  # a handler with no stream at all
    ("json", Terminal(), logs.JsonFormatter),  # LOG_FORMAT=json wins over the terminal
    ("text", io.StringIO(), logs.TextFormatter),  # and LOG_FORMAT=text over the file
])
def test_the_format_follows_log_format_and_auto_asks_whether_the_stream_is_a_terminal(log_format, stream, expected):
    assert type(logs.formatter(log_format, stream)) is expected


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="auto, json, text"):
        logs.formatter("pretty", io.StringIO())


@pytest.fixture
def root_logger():
    """The root logger, its level and handlers (and their formatters) put back after the test."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers), [h.formatter for h in root.handlers]
    yield root
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for handler, formatter in zip(saved[1], saved[2]):
        handler.setFormatter(formatter)


def test_configure_writes_text_to_a_terminal_stderr_and_json_when_forced(root_logger, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    logs.configure("INFO")
    logging.getLogger("test.logs.configure").info("to a person")
    logs.configure("INFO", log_format="json")
    logging.getLogger("test.logs.configure").info("to a machine")

    person, machine = terminal.getvalue().splitlines()[-2:]
    assert person.endswith(" INFO  to a person")
    assert json.loads(machine)["message"] == "to a machine"
    assert sum(isinstance(h, logs._Stderr) for h in root_logger.handlers) == 1  # configured twice, one handler


def test_celerys_handlers_get_the_same_choice_each_by_its_own_stream():
    celery_logger = logging.getLogger("test.logs.celery")
    to_terminal, to_file = logging.StreamHandler(Terminal()), logging.StreamHandler(io.StringIO())
    celery_logger.handlers[:] = [to_terminal, to_file]

    format_handlers(celery_logger, "auto")
    assert (type(to_terminal.formatter), type(to_file.formatter)) == (logs.TextFormatter, logs.JsonFormatter)
    format_handlers(celery_logger, "json")
    assert type(to_terminal.formatter) is logs.JsonFormatter

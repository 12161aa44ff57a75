"""Structured logs: one JSON object a line, the bound context on it, no secrets or personal data."""
from __future__ import annotations

import io
import json
import logging

import pytest

from dcoe import logs


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

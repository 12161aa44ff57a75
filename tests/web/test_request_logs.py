"""Every request gets a request id, echoed in the response and on its log lines, with the user."""
from __future__ import annotations

import json
import logging

import pytest

from conftest import login
from dcoe.logs import JsonFormatter


@pytest.fixture
def request_lines(caplog):
    """The `dcoe.request` records of the test, formatted as the JSON lines the handler writes."""
    caplog.set_level(logging.INFO, logger="dcoe.request")
    formatter = JsonFormatter()
    return lambda: [json.loads(formatter.format(r)) for r in caplog.records if r.name == "dcoe.request"]


def test_a_request_without_an_id_gets_a_new_one_in_the_response(client):
    first, second = client.get("/health"), client.get("/health")

    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_the_callers_request_id_is_echoed_and_a_forged_one_replaced(client):
    assert client.get("/health", headers={"X-Request-ID": "lb-42.a"}).headers["X-Request-ID"] == "lb-42.a"
    forged = client.get("/health", headers={"X-Request-ID": 'x", "level": "ERROR'})
    assert len(forged.headers["X-Request-ID"]) == 32 and '"' not in forged.headers["X-Request-ID"]


def test_the_request_line_carries_route_status_user_and_no_query_string(client, make_user, request_lines):
    user = make_user("admin")
    headers = {**login(client, user.email), "X-Request-ID": "req-1"}

    client.get("/api/cases?q=Asha", headers=headers)

    (entry,) = [e for e in request_lines() if e.get("request_id") == "req-1"]
    assert (entry["route"], entry["status"], entry["user_id"]) == ("/api/cases", 200, user.id)
    assert entry["path"] == "/api/cases" and "Asha" not in json.dumps(entry)

"""Concurrent status updates of one case through a real gunicorn server: the row lock and the
version check let exactly one writer win, and history records exactly the changes that won."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import requests

from live import gunicorn

WRITERS = 8


@pytest.fixture(scope="module")
def server(settings):
    """The API under gunicorn (2 workers x 8 threads) on a free port; its base URL."""
    with gunicorn(settings, workers=2, threads=8, LOGIN_RATE_LIMIT="1000 per minute") as base:
        yield base


def bearer(base, email) -> dict:
    response = requests.post(f"{base}/api/auth/login", json={"email": email, "password": "password123"}, timeout=10)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def all_at_once(requests_to_send) -> list[int]:
    """Send the (url, body, headers) requests from as many threads, released together; their statuses."""
    barrier = Barrier(len(requests_to_send))

    def send(request):
        url, body, headers = request
        barrier.wait()
        return requests.patch(url, json=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def history_of(base, headers, case_pk) -> list[dict]:
    """The case's status moves (make_case's assignment is also in its history)."""
    history = requests.get(f"{base}/api/cases/{case_pk}/history", headers=headers, timeout=10).json()
    return [entry for entry in history if entry["kind"] == "status"]


def test_parallel_updates_with_the_same_if_match_let_exactly_one_win(server, make_user, make_case):
    agent = make_user("call_center_agent")
    headers = bearer(server, agent.email)
    case_pk = make_case(assigned_to=agent.id)
    url = f"{server}/api/cases/{case_pk}/update-status"
    statuses = all_at_once([(url, {"status": "In Progress", "comment": f"writer {n}"}, {**headers, "If-Match": '"1"'})
                            for n in range(WRITERS)])
    assert sorted(statuses) == [200] + [412] * (WRITERS - 1)
    case = requests.get(f"{server}/api/cases/{case_pk}", headers=headers, timeout=10).json()
    assert (case["status"], case["version"]) == ("In Progress", 2)
    entries = history_of(server, headers, case_pk)
    assert [(e["from"], e["to"]) for e in entries] == [("Pending", "In Progress")]


def test_parallel_updates_without_if_match_queue_up_and_the_losers_see_the_new_status(server, make_user,
                                                                                     make_case):
    agent = make_user("call_center_agent")
    headers = bearer(server, agent.email)
    case_pk = make_case(assigned_to=agent.id)
    url = f"{server}/api/cases/{case_pk}/update-status"
    statuses = all_at_once([(url, {"status": "In Progress"}, headers)] * WRITERS)
    # the first moves Pending -> In Progress; each later one, locked out until then, finds it
    # already In Progress, a transition the workflow refuses
    assert sorted(statuses) == [200] + [409] * (WRITERS - 1)
    assert len(history_of(server, headers, case_pk)) == 1


def test_history_is_an_unbroken_chain_of_exactly_the_changes_that_won(server, make_user, make_case):
    agent = make_user("call_center_agent")
    headers = bearer(server, agent.email)
    case_pk = make_case(assigned_to=agent.id, status="In Progress")
    url = f"{server}/api/cases/{case_pk}/update-status"
    targets = ["Escalated", "In Progress"] * (WRITERS * 2)
    statuses = all_at_once([(url, {"status": target}, headers) for target in targets])
    won = statuses.count(200)
    assert won >= 1 and set(statuses) <= {200, 409}
    case = requests.get(f"{server}/api/cases/{case_pk}", headers=headers, timeout=10).json()
    entries = history_of(server, headers, case_pk)
    assert case["version"] == 1 + won == 1 + len(entries)
    chain = ["In Progress"] + [e["to"] for e in entries]
    assert [e["from"] for e in entries] == chain[:-1]
    assert chain[-1] == case["status"]

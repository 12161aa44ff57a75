"""No borrower name, password or token in any log line or task message (OWASP API3 / API8).

A full day's flow — users created and changed, a file uploaded twice with good and bad rows,
an assignment run, an agent working a case, tokens refreshed and revoked, analytics — runs
against the real processes (gunicorn as `dcoe web` runs it, a worker, beat) at DEBUG level. Their
logs and every task message the worker received are then searched for each secret.
"""
from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from celery import Celery

from conftest import eventually
from faults.system import FINISHED

pytestmark = pytest.mark.slow

FIRST = ("Zephyrine", "Quillon", "Marisabel", "Octavian", "Ysolde", "Thaddeus")
LAST = ("Vastaberg", "Okonkwo-Reyes", "Thistlewood", "Abernathy", "Kowalczyk")
BORROWERS = [f"{first} {last}" for first in FIRST for last in LAST]  # 30 names
PASSWORDS = {"admin": "Adm1n-Horse-Battery-9", "agent": "Ag3nt-Staple-Correct-7", "wrong": "Wr0ng-Guess-Pass-5"}
HEADER = "case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority,region\n"
JOB_ARGUMENTS = re.compile(r"""[\[(](['"][0-9a-f-]{36}['"]|\d+)?,?[\])]""")  # a job id, an interval, nothing


def _file() -> bytes:
    rows = [f"PD-{n:03d},HDFC,{name},5000.00,{100 + n}.00,{(n * 37) % 400},High,North"
            for n, name in enumerate(BORROWERS)]
    rows += [f"PD-BAD-1,HDFC,{BORROWERS[0]} Junior,-5,1,1,Low,North",  # rejected rows are reported, not logged
             f"PD-BAD-2,HDFC,{BORROWERS[1]} Senior,1,1,1,Urgent,North",
             f"PD-000,HDFC,{BORROWERS[2]} Twin,1,1,1,Low,North"]
    return (HEADER + "\n".join(rows) + "\n").encode()


class TaskMessages(threading.Thread):
    """Every task event the broker carries (what Flower shows, arguments included)."""

    def __init__(self, broker_url: str):
        super().__init__(daemon=True)
        self.app = Celery(broker=broker_url)
        self.events: list[dict] = []
        self.receiver = None

    def run(self) -> None:
        with self.app.connection_for_read() as conn:
            self.receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            self.receiver.capture(limit=None, timeout=None, wakeup=True)

    def stop(self) -> None:
        self.receiver.should_stop = True
        self.join(10)


class Session:
    """A user of the API over real HTTP, remembering every token it was given."""

    tokens: list[str] = []

    def __init__(self, base: str, email: str, password: str):
        self.base = base
        body = requests.post(f"{base}/api/auth/login", json={"email": email, "password": password}, timeout=10).json()
        self.access, self.refresh_token = body["access_token"], body["refresh_token"]
        Session.tokens += [self.access, self.refresh_token]

    def call(self, method: str, path: str, expected: int, **kwargs) -> requests.Response:
        response = requests.request(method, self.base + path, timeout=30,
                                    headers={"Authorization": f"Bearer {self.access}"} | kwargs.pop("headers", {}),
                                    **kwargs)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def finished(self, response: requests.Response) -> dict:
        job = eventually(lambda: (j := self.call("GET", response.headers["Location"], 200).json())["state"]
                         in FINISHED and j, 120, "the job finishing")
        assert job["state"] == "succeeded", job
        return job

    def refresh(self) -> None:
        response = requests.post(f"{self.base}/api/auth/refresh", timeout=10,
                                 headers={"Authorization": f"Bearer {self.refresh_token}"})
        assert response.status_code == 200
        self.access = response.json()["access_token"]
        Session.tokens.append(self.access)


def _day_of_work(base: str, admin_email: str) -> None:
    admin = Session(base, admin_email, "password123")
    me = admin.call("GET", "/api/auth/me", 200).json()["id"]
    admin.call("PATCH", f"/api/users/{me}", 200, json={"password": PASSWORDS["admin"]})
    admin = Session(base, admin_email, PASSWORDS["admin"])
    agents = {}
    for role in ("call_center_agent", "field_agent", "legal_team"):
        agents[role] = admin.call("POST", "/api/users", 201, json={
            "email": f"{role}@example.com", "name": f"Agent {role}", "password": PASSWORDS["agent"], "role": role,
        }).json()
    denied = requests.post(f"{base}/api/auth/login", timeout=10,
                           json={"email": "call_center_agent@example.com", "password": PASSWORDS["wrong"]})
    assert denied.status_code == 401

    for _ in range(2):  # the second upload refreshes every case
        job = admin.finished(admin.call("POST", "/api/cases/upload", 202,
                                        files={"file": ("placements.csv", _file(), "text/csv")}))
        assert job["result"]["rows_rejected"] == 3
    assert "PD-BAD-1" in admin.call("GET", f"/api/jobs/{job['id']}/errors", 200).text
    assert admin.finished(admin.call("POST", "/api/cases/assign", 202, json={}))["result"]["assigned"] == 30

    agent = Session(base, "call_center_agent@example.com", PASSWORDS["agent"])
    case = agent.call("GET", "/api/cases", 200, params={"limit": 1}).json()["items"][0]
    agent.call("PATCH", f"/api/cases/{case['id']}/update-status", 200,
               json={"status": "Resolved", "comment": f"{case['borrower_name']} paid in full"})
    agent.call("GET", f"/api/cases/{case['id']}/history", 200)
    agent.refresh()
    agent.call("POST", "/api/auth/logout", 204)
    admin.call("GET", "/api/cases", 200, params={"q": "PD-0", "limit": 500})
    admin.finished(admin.call("POST", "/api/analytics/refresh", 202))


def test_a_full_flow_leaves_no_personal_data_or_secret_in_logs_or_task_messages(system):
    messages = TaskMessages(system.settings.redis_url)
    messages.start()
    system.worker(loglevel="DEBUG", LOG_LEVEL="DEBUG")
    system.beat(loglevel="DEBUG", LOG_LEVEL="DEBUG")
    eventually(lambda: messages.events, 30, "the first event from the worker")
    base = system.web(LOG_LEVEL="DEBUG")
    Session.tokens = []
    _day_of_work(base, "admin@example.com")
    system.settle()
    time.sleep(1)  # the last events and log lines reach their files
    messages.stop()
    system.stop_all()

    logs = {name: system.log(name) for name in ("web", "worker", "beat")}
    # the control: these are the real logs of the flow, and the events its tasks
    assert '"route": "/api/cases/upload"' in logs["web"] and "job succeeded" in logs["worker"]
    assert "jobs.reconcile" in logs["beat"]
    received = [e for e in messages.events if e["type"] == "task-received"]
    assert {"ingest.run", "assignment.run", "analytics.refresh"} <= {e["name"] for e in received}

    words = {word for name in BORROWERS for word in name.split()}
    secrets = {**{f"borrower {w}": w for w in words}, **{f"password {k}": v for k, v in PASSWORDS.items()},
               **{f"token #{n}": token for n, token in enumerate(Session.tokens)},
               **{f"token #{n} signature": token.rsplit(".", 1)[1] for n, token in enumerate(Session.tokens)}}
    found = {f"{what} in {where}": True for where, text in logs.items()
             for what, secret in secrets.items() if secret in text}
    task_text = repr(messages.events)
    found |= {f"{what} in task messages": True for what, secret in secrets.items() if secret in task_text}
    assert found == {}
    odd = {(e["name"], e["args"], e["kwargs"]) for e in received
           if not JOB_ARGUMENTS.fullmatch(e["args"]) or e["kwargs"] != "{}"}
    assert odd == set()  # tasks carry ids, never data

"""A dialer's log through the API and a real Celery worker: each row recorded as a reported
contact with the rules it broke, bad rows with their lines, duplicates in the file and across
files, the holds its outcomes place, the roles, the formats, a worker killed mid-file."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from sqlalchemy import text

from conftest import Worker, eventually, wait_for_job
from domain import ingestion
from domain.jobs import JobState, JobType

pytestmark = pytest.mark.usefixtures("worker", "clean_db")
HEADER = "case_id,channel,direction,outcome,at,note"
NY = "America/New_York"  # October 2026: EDT, UTC-4 (14:00Z is 10:00 local)


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


def upload(client, headers, data: bytes, content_type: str = "text/csv") -> dict:
    response = client.post("/api/contacts/upload", data=data, content_type=content_type, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.json["type"] == "contacts"
    assert response.headers["Location"] == f"/api/jobs/{response.json['id']}"
    return wait_for_job(client, headers, response.json["id"])


def recorded(client, headers, data: bytes, content_type: str = "text/csv") -> dict:
    job = upload(client, headers, data, content_type)
    assert job["state"] == "succeeded", job["error"]
    return job["result"]


def query(uow, sql: str, **params) -> list[tuple]:
    with uow() as u:
        return [tuple(row) for row in u.connection.execute(text(sql), params)]


def violations_by_line(uow, case_pk: int) -> list[tuple]:
    return query(uow, "SELECT to_char(at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), channel::text, direction::text, "
                      "outcome::text, policy_violations FROM contacts WHERE case_pk = :pk ORDER BY at, id", pk=case_pk)


def error_csv(client, headers, job_id) -> list[list[str]]:
    response = client.get(f"/api/jobs/{job_id}/errors", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def stored_contact(uow, case_pk: int, at: str, channel="call", direction="outbound", outcome="no_answer") -> None:
    with uow() as u:
        u.connection.execute(text(
            "INSERT INTO contacts (case_pk, at, channel, direction, outcome, right_party, reported) "
            "VALUES (:pk, :at, CAST(:channel AS contact_channel), CAST(:direction AS contact_direction), "
            "CAST(:outcome AS contact_outcome), false, true)"),
            {"pk": case_pk, "at": at, "channel": channel, "direction": direction, "outcome": outcome})
        u.commit()


def stored_hold(uow, case_pk: int, hold_type: str, scope: str, created_at: str) -> None:
    """A hold placed in the past (the file's rows are judged by the holds active at their `at`)."""
    with uow() as u:
        u.connection.execute(text(
            "INSERT INTO holds (case_pk, bank_code, borrower_ref, scope, type, reason, created_at) "
            "SELECT id, bank_code, borrower_ref, CAST(:scope AS hold_scope), CAST(:type AS hold_type), 'test', "
            ":created_at FROM cases_processed WHERE id = :pk"),
            {"pk": case_pk, "type": hold_type, "scope": scope, "created_at": created_at})
        u.commit()


# ---- the rows -----------------------------------------------------------------------------------

def test_every_row_is_recorded_as_a_reported_contact_with_the_rules_it_broke(client, admin_headers, uow, make_case):
    hours = make_case(case_id="HOURS", timezone=NY)
    often = make_case(case_id="OFTEN", timezone=NY)
    spoke = make_case(case_id="SPOKE", timezone=NY)
    calls = [f"OFTEN,call,outbound,no_answer,2026-10-{day:02d}T14:00:00Z," for day in range(6, 13)]
    job = upload(client, admin_headers, csv_file(
        "HOURS,call,outbound,voicemail,2026-10-05T02:00:00Z,22:00 the evening before",  # 2 outside_hours
        "HOURS,sms,outbound,no_answer,2026-10-05T14:00:00+00:00,",  # 3 10:00 local: fine
        "HOURS,letter,outbound,no_answer,2026-10-05T03:00:00Z,",  # 4 a letter has no hours
        "HOURS,call,inbound,conversation,2026-10-05T03:30:00Z,",  # 5 the borrower called: no rule broken
        *calls,  # 6-12 seven calls in seven days
        "OFTEN,call,outbound,voicemail,2026-10-12T16:00:00Z,the 8th",  # 13 call_frequency
        "OFTEN,sms,outbound,no_answer,2026-10-12T17:00:00Z,",  # 14 an sms is not a call
        "SPOKE,call,inbound,conversation,2026-10-05T15:00:00Z,",  # 15
        "SPOKE,call,outbound,no_answer,2026-10-11T15:00:00-04:00,",  # 16 D+6 after the conversation
        "SPOKE,call,outbound,no_answer,2026-10-12T13:00:00Z,",  # 17 D+7: allowed
    ))
    assert job["state"] == "succeeded", job["error"]
    assert job["result"] == {"rows_total": 16, "rows_recorded": 16, "rows_duplicate": 0, "rows_rejected": 0,
                             "violations": 3, "errors_sample": []}
    assert job["progress"] == {"done": 16, "total": 16}
    assert violations_by_line(uow, hours) == [
        ("10-05 02:00", "call", "outbound", "voicemail", ["outside_hours"]),
        ("10-05 03:00", "letter", "outbound", "no_answer", []),
        ("10-05 03:30", "call", "inbound", "conversation", []),
        ("10-05 14:00", "sms", "outbound", "no_answer", [])]
    assert [row[4] for row in violations_by_line(uow, often)] == [[]] * 7 + [["call_frequency"], []]
    assert [row[4] for row in violations_by_line(uow, spoke)] == [[], ["after_conversation"], []]
    admin = client.get("/api/auth/me", headers=admin_headers).json["id"]
    assert query(uow, "SELECT DISTINCT reported, job_id::text, created_by FROM contacts") == [(True, job["id"], admin)]
    listed = client.get(f"/api/cases/{hours}/contacts", headers=admin_headers).json["items"]
    assert [(c["outcome"], c["right_party"], c["note"]) for c in listed] == [
        ("voicemail", False, "22:00 the evening before"), ("no_answer", False, None),
        ("conversation", True, None), ("no_answer", False, None)]


def test_contacts_recorded_before_the_file_count_toward_its_rows(client, admin_headers, uow, make_case):
    case = make_case(case_id="STORED", timezone=NY)
    for day in range(6, 13):
        stored_contact(uow, case, f"2026-10-{day:02d}T14:00:00Z")
    stored_contact(uow, case, "2026-10-12T14:30:00Z", outcome="not_connected")  # does not count
    result = recorded(client, admin_headers, csv_file("STORED,call,outbound,no_answer,2026-10-12T18:00:00Z,",
                                                      "STORED,call,outbound,no_answer,2026-10-13T18:00:00Z,"))
    assert (result["rows_recorded"], result["violations"]) == (2, 2)
    # the 13th: the call of the 6th left the seven days, the file's own call of the 12th came in
    assert [row[4] for row in violations_by_line(uow, case)][-2:] == [["call_frequency"], ["call_frequency"]]


def test_holds_active_at_a_rows_time_are_its_violations_on_the_case_and_on_its_borrower(client, admin_headers, uow,
                                                                                     make_case):
    disputed = make_case(case_id="DISPUTED", timezone=NY)
    mine = make_case(case_id="MINE", timezone=NY, borrower_ref="P-1")
    sibling = make_case(case_id="SIBLING", timezone=NY, borrower_ref="P-1")
    stored_hold(uow, disputed, "dispute", "case", "2026-10-05T00:00:00Z")
    stored_hold(uow, sibling, "cease", "borrower", "2026-10-05T00:00:00Z")
    result = recorded(client, admin_headers, csv_file(
        "DISPUTED,sms,outbound,no_answer,2026-10-04T14:00:00Z,",  # before the hold
        "DISPUTED,sms,outbound,no_answer,2026-10-06T14:00:00Z,",
        "MINE,email,outbound,no_answer,2026-10-06T14:00:00Z,",  # the borrower's cease, placed on the sibling
        "MINE,call,inbound,refused,2026-10-06T15:00:00Z,"))
    assert result["violations"] == 2
    assert [row[4] for row in violations_by_line(uow, disputed)] == [[], ["hold_dispute"]]
    assert [row[4] for row in violations_by_line(uow, mine)] == [["hold_cease"], []]


def test_bad_rows_are_rejected_with_their_line_numbers_and_the_good_ones_recorded(client, admin_headers, uow,
                                                                                 make_case):
    make_case(case_id="A", timezone=NY)
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    job = upload(client, admin_headers, csv_file(
        "A,call,outbound,no_answer,2026-10-05T14:00:00Z,",  # 2 recorded
        "NOPE,call,outbound,no_answer,2026-10-05T14:00:00Z,",  # 3
        "A,fax,outbound,no_answer,2026-10-05T14:00:00Z,",  # 4
        "A,call,sideways,no_answer,2026-10-05T14:00:00Z,",  # 5
        "A,call,outbound,hung_up,2026-10-05T14:00:00Z,",  # 6
        "A,call,outbound,no_answer,2026-10-05T14:00:00,",  # 7 no offset
        "A,call,outbound,no_answer,yesterday,",  # 8
        f"A,call,outbound,no_answer,{future},",  # 9
        f"A,call,outbound,no_answer,2026-10-05T15:00:00Z,{'x' * 2001}",  # 10
        ",call,outbound,no_answer,2026-10-05T14:00:00Z,",  # 11
        " A , Call , OUTBOUND , No_Answer , 2026-10-05T16:00:00Z , trimmed ",  # 12 recorded
    ))
    assert job["state"] == "succeeded", job["error"]
    offset = "must be an ISO 8601 time with a UTC offset, like 2026-12-03T14:05:00Z"
    expected = [
        ["3", "NOPE", "case_id", "no case has this case_id"],
        ["4", "A", "channel", "must be one of call, sms, email, letter, visit"],
        ["5", "A", "direction", "must be one of outbound, inbound"],
        ["6", "A", "outcome", "must be one of no_answer, voicemail, not_connected, wrong_party, conversation, "
                              "promise_taken, dispute_raised, refused, cease_requested"],
        ["7", "A", "at", offset],
        ["8", "A", "at", offset],
        ["9", "A", "at", "must not be in the future (a report of a past contact)"],
        ["10", "A", "note", "must be at most 2000 characters"],
        ["11", "", "case_id", "must not be empty"],
    ]
    assert error_csv(client, admin_headers, job["id"]) == [["line", "case_id", "field", "message"], *expected]
    assert job["result"] == {
        "rows_total": 11, "rows_recorded": 2, "rows_duplicate": 0, "rows_rejected": 9, "violations": 0,
        "errors_sample": [dict(zip(("line", "case_id", "field", "message"), [int(e[0]), e[1] or None, *e[2:]]))
                          for e in expected]}
    assert query(uow, "SELECT channel::text, outcome::text, note FROM contacts ORDER BY at") == [
        ("call", "no_answer", None), ("call", "no_answer", "trimmed")]


def test_a_row_longer_than_a_header_without_the_note_column_is_rejected_and_the_others_recorded(
        client, admin_headers, make_case):
    make_case(case_id="A", timezone=NY)
    job = upload(client, admin_headers, csv_file("A,call,outbound,no_answer,2026-10-05T14:00:00Z",
                                                 "A,call,outbound,no_answer,2026-10-05T15:00:00Z,a note",
                                                 header="case_id,channel,direction,outcome,at"))
    assert (job["state"], job["result"]["rows_recorded"], job["result"]["rows_rejected"]) == ("succeeded", 1, 1)
    assert error_csv(client, admin_headers, job["id"])[1:] == [["3", "A", "_", "has 6 fields but the header has 5"]]


def test_a_missing_column_fails_the_job_naming_it_and_writes_nothing(client, admin_headers, uow, make_case):
    make_case(case_id="A")
    job = upload(client, admin_headers,
                 csv_file("A,call,outbound,no_answer", header="case_id,channel,direction,outcome"))
    assert job["state"] == "failed"
    assert job["error"]["title"] == "Missing columns"
    assert "the header has no column at" in job["error"]["detail"]
    assert query(uow, "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM ingest_errors)") == [(0, 0)]


def test_a_zone_the_database_does_not_know_fails_the_job_naming_it_and_writes_nothing(client, admin_headers, uow,
                                                                                       make_case):
    make_case(case_id="A", timezone="Mars/Olympus_Mons")  # stored before zones were checked, say
    make_case(case_id="B", timezone=NY)
    job = upload(client, admin_headers, csv_file("A,call,outbound,no_answer,2026-10-05T14:00:00Z,",
                                                 "B,call,outbound,no_answer,2026-10-05T14:00:00Z,"))
    assert (job["state"], job["error"]["title"]) == ("failed", "Unknown time zone")
    assert "Mars/Olympus_Mons" in job["error"]["detail"] and NY not in job["error"]["detail"]
    assert query(uow, "SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM ingest_errors)") == [(0, 0)]


# ---- duplicates -----------------------------------------------------------------------------------

def test_a_row_repeated_in_the_file_or_already_recorded_is_a_duplicate(client, admin_headers, uow, make_case):
    case = make_case(case_id="A", timezone=NY)
    stored_contact(uow, case, "2026-10-05T14:00:00Z")
    result = recorded(client, admin_headers, csv_file(
        "A,call,outbound,no_answer,2026-10-05T10:00:00-04:00,",  # the stored contact, at the same instant
        "A,call,outbound,voicemail,2026-10-05T14:00:00Z,",  # another outcome: another contact
        "A,sms,outbound,no_answer,2026-10-05T15:00:00Z,first",
        "A,sms,outbound,no_answer,2026-10-05T15:00:00Z,again",  # line 4 again
    ))
    assert (result["rows_recorded"], result["rows_duplicate"], result["rows_rejected"]) == (2, 2, 0)
    assert query(uow, "SELECT outcome::text, note FROM contacts ORDER BY at, id") == [
        ("no_answer", None), ("voicemail", None), ("no_answer", "first")]


def test_the_same_file_sent_twice_records_nothing_new_the_second_time(client, admin_headers, uow, make_case):
    make_case(case_id="A", timezone=NY)
    make_case(case_id="B", timezone=NY, borrower_ref="P-9")
    data = csv_file(*(f"A,call,outbound,no_answer,2026-10-{day:02d}T14:00:00Z," for day in range(1, 8)),
                    "A,call,outbound,no_answer,2026-10-07T15:00:00Z,",
                    "A,call,outbound,no_answer,2026-10-07T16:00:00Z,",
                    "B,call,inbound,cease_requested,2026-10-05T14:00:00Z,stop calling",
                    "NOPE,sms,outbound,no_answer,2026-10-05T14:00:00Z,")
    state = ("SELECT (SELECT json_agg(c ORDER BY id) FROM contacts c), (SELECT json_agg(h ORDER BY id) FROM holds h)")
    first = recorded(client, admin_headers, data)
    assert (first["rows_recorded"], first["rows_rejected"], first["violations"]) == (10, 1, 2)
    before = query(uow, state)
    second = recorded(client, admin_headers, data)
    assert second == {"rows_total": 11, "rows_recorded": 0, "rows_duplicate": 10, "rows_rejected": 1,
                      "violations": 0, "errors_sample": first["errors_sample"]}
    assert query(uow, state) == before


# ---- holds ------------------------------------------------------------------------------------------

def test_dispute_and_cease_rows_place_their_holds_once_as_a_single_contact_would(client, admin_headers, uow,
                                                                                 make_case):
    disputed = make_case(case_id="D", timezone=NY)
    ceased = make_case(case_id="C1", borrower_ref="P-1")
    make_case(case_id="C2", borrower_ref="P-1")
    alone = make_case(case_id="ALONE")
    recorded(client, admin_headers, csv_file(
        "D,call,inbound,dispute_raised,2026-10-05T14:00:00Z,not my debt",
        "D,call,inbound,dispute_raised,2026-10-06T14:00:00Z,",  # one active dispute is enough
        "C1,call,outbound,cease_requested,2026-10-05T14:00:00Z,",
        "C2,email,inbound,cease_requested,2026-10-06T14:00:00Z,",  # the same borrower: held already
        "ALONE,call,outbound,cease_requested,2026-10-05T14:00:00Z,",  # no borrower_ref: its own person
    ))
    admin = client.get("/api/auth/me", headers=admin_headers).json["id"]
    assert query(uow, "SELECT case_pk, type::text, scope::text, borrower_ref, reason, created_by, lifted_at "
                      "FROM holds ORDER BY id") == [
        (disputed, "dispute", "case", None, "dispute_raised in a contact: not my debt", admin, None),
        (ceased, "cease", "borrower", "P-1", "cease_requested in a contact", admin, None),
        (alone, "cease", "borrower", None, "cease_requested in a contact", admin, None)]
    for case_pk in (disputed, ceased, alone):
        assert client.get(f"/api/cases/{case_pk}", headers=admin_headers).json["on_hold"] is True


# ---- the request ----------------------------------------------------------------------------------

ROWS = [{"case_id": "A", "channel": "call", "direction": "outbound", "outcome": "no_answer",
         "at": "2026-10-05T14:00:00Z", "note": "n1"},
        {"Case_ID": "B", "channel": "sms", "direction": "outbound", "outcome": "no_answer",
         "at": "2026-10-05T02:00:00Z"}]


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/csv", csv_file("A,call,outbound,no_answer,2026-10-05T14:00:00Z,n1",
                          "B,sms,outbound,no_answer,2026-10-05T02:00:00Z,")),
    ("application/json", json.dumps(ROWS).encode()),
    ("application/x-ndjson", "\n".join(json.dumps(r) for r in ROWS).encode()),
], ids=["csv", "json", "ndjson"])
def test_csv_json_and_ndjson_logs_record_the_same_contacts(client, admin_headers, uow, make_case, content_type, body):
    make_case(case_id="A", timezone=NY)
    make_case(case_id="B", timezone=NY)
    result = recorded(client, admin_headers, body, content_type)
    assert (result["rows_total"], result["rows_recorded"], result["violations"]) == (2, 2, 1)
    assert query(uow, "SELECT channel::text, note, policy_violations FROM contacts ORDER BY id") == [
        ("call", "n1", []), ("sms", None, ["outside_hours"])]


def test_a_json_element_that_is_not_an_object_is_rejected_with_its_index(client, admin_headers, make_case):
    make_case(case_id="A")
    job = upload(client, admin_headers, json.dumps([ROWS[0], 5, {**ROWS[0], "channel": None}]).encode(),
                 "application/json")
    assert error_csv(client, admin_headers, job["id"])[1:] == [
        ["2", "", "_", "must be a JSON object with the contact columns"], ["3", "A", "channel", "is required"]]


def test_the_upload_is_for_admins_and_an_agent_cannot_see_the_job(client, admin_headers, agent_headers, make_case):
    make_case(case_id="A")
    _agent, headers = agent_headers()
    data = csv_file("A,call,outbound,no_answer,2026-10-05T14:00:00Z,")
    assert client.post("/api/contacts/upload", data=data, content_type="text/csv", headers=headers).status_code == 403
    assert client.post("/api/contacts/upload", data=b"", content_type="text/csv",
                       headers=admin_headers).status_code == 400
    job = upload(client, admin_headers, data)
    assert client.get(f"/api/jobs/{job['id']}", headers=headers).status_code == 404
    assert client.get(f"/api/jobs/{job['id']}/errors", headers=headers).status_code == 404


# ---- faults -----------------------------------------------------------------------------------------

KILL_CASES, KILL_CALLS = 20_000, 10  # 200,000 rows


@pytest.fixture
def beat(settings, tmp_path):
    """Celery beat: it runs the reconciler every RECONCILE_INTERVAL_SECONDS (2 s in the tests)."""
    import subprocess
    import sys

    from conftest import ROOT, settings_env

    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--schedule", str(tmp_path / "schedule"),
         "--loglevel", "WARNING"],
        cwd=ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(30)


@pytest.mark.slow
def test_a_worker_killed_mid_file_is_retried_and_every_contact_is_recorded_exactly_once(settings, uow, make_user,
                                                                                       beat):
    admin = make_user("admin")
    with uow() as u:
        u.connection.execute(text(
            "INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, "
            "priority, region, team, timezone) SELECT 'K-' || g, 'HDFC', 'B', 1000, 500, 10, 'Low', 'North', "
            "'call_center', 'America/Chicago' FROM generate_series(1, :n) g"), {"n": KILL_CASES})
        u.commit()
    data = csv_file(*(f"K-{k},call,outbound,no_answer,2026-10-{1 + call // 2:02d}T{14 + call % 2 * 2}:00:00Z,"
                      for k in range(1, KILL_CASES + 1) for call in range(KILL_CALLS)))
    rows = KILL_CASES * KILL_CALLS
    # a queue of its own, so that the session's worker does not take the first attempt
    doomed = Worker(settings, queues="contacts-doomed", concurrency=1, name="doomed").start()
    sender = Celery(broker=settings.redis_url)
    try:
        with uow() as u:
            job, _ = ingestion.start_upload(
                u, body=io.BytesIO(data), fmt="csv", filename="dialer.csv", created_by=admin.id,
                chunk_bytes=settings.upload_chunk_bytes, job_type=JobType.CONTACTS,
                enqueue=lambda j: sender.send_task("contacts.run", args=[str(j.id)], queue="contacts-doomed"))
        eventually(lambda: the_job(uow, job.id).progress_done > 0, 30, "progress of the first attempt")
        doomed.kill()
    finally:
        doomed.stop()
    killed = the_job(uow, job.id)
    assert (killed.state, killed.attempts) == (JobState.RUNNING, 1)  # it really died in the middle
    assert query(uow, "SELECT count(*) FROM contacts") == [(0,)]

    done = eventually(lambda: (j := the_job(uow, job.id)).state.finished and j, 90, "the retried job")
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 2)
    # the 8th to 10th calls of each case (two a day): seven in the seven days before
    assert (done.result["rows_recorded"], done.result["violations"]) == (rows, 3 * KILL_CASES)
    assert query(uow, "SELECT count(*), count(DISTINCT (case_pk, at)) FROM contacts") == [(rows, rows)]


def the_job(uow, job_id):
    with uow() as u:
        return u.jobs.get(job_id)

"""The bank's payments file through the API and a real Celery worker: every row kind, the ledger's
effect on cases and promises, the same file twice, the file formats, a worker killed mid-file."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta

import pytest
from celery import Celery
from sqlalchemy import text

from conftest import ROOT, Worker, eventually, settings_env, today, wait_for_job
from domain import ingestion
from domain.jobs import JobState, JobType

pytestmark = pytest.mark.usefixtures("worker", "no_payments")
HEADER = "case_id,amount,paid_on,reference,method"


PAID_ON = (today() - timedelta(days=2)).isoformat()


@pytest.fixture
def no_payments(engine, clean_db):
    """The ledger starts empty too (the suite's cleanup truncates the cases, not the payments)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE payments RESTART IDENTITY")


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *rows, ""]).encode()


def upload(client, headers, data: bytes, content_type: str = "text/csv") -> dict:
    response = client.post("/api/payments/upload", data=data, content_type=content_type, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.json["type"] == "payments"
    return wait_for_job(client, headers, response.json["id"])


def applied(client, headers, data: bytes, content_type: str = "text/csv") -> dict:
    job = upload(client, headers, data, content_type)
    assert job["state"] == "succeeded", job["error"]
    return job["result"]


def query(uow, sql: str, **params) -> list[tuple]:
    with uow() as u:
        return [tuple(row) for row in u.connection.execute(text(sql), params)]


def recovered(uow) -> dict[str, str | None]:
    return dict(query(uow, "SELECT case_id, amount_recovered::text FROM cases_processed ORDER BY id"))


def stored_payment(uow, case_pk: int, reference: str, amount: str) -> None:
    """A payment recorded earlier (by hand, or by yesterday's file), with its effect on the case."""
    with uow() as u:
        u.connection.execute(text("INSERT INTO payments (case_pk, bank_code, reference, amount, paid_on, method) "
                                  "VALUES (:pk, 'HDFC', :ref, :amount, :paid_on, 'transfer')"),
                             {"pk": case_pk, "ref": reference, "amount": amount, "paid_on": PAID_ON})
        u.connection.execute(text("UPDATE cases_processed SET amount_recovered = :amount WHERE id = :pk"),
                             {"pk": case_pk, "amount": amount})
        u.commit()


def error_csv(client, headers, job_id) -> list[list[str]]:
    response = client.get(f"/api/jobs/{job_id}/errors", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# ---- the rows ------------------------------------------------------------------------------------

def test_each_row_is_applied_counted_as_a_duplicate_or_rejected_with_its_reason(client, admin_headers, uow, make_case):
    pk = {name: make_case(case_id=name, due_amount="1000.00") for name in ("A", "B", "C", "E")}
    pk["D"] = make_case(case_id="D", due_amount="100.00")
    stored_payment(uow, pk["B"], "R-B", "50.00")
    stored_payment(uow, pk["C"], "R-C", "70.00")
    stored_payment(uow, pk["E"], "R-E0", "5.00")
    future = (today() + timedelta(days=2)).isoformat()
    job = upload(client, admin_headers, csv_file(
        f"A,100.00,{PAID_ON},R-A,transfer",  # 2 applied
        f"B,50.00,{PAID_ON},R-B,",  # 3 the payment recorded already: a duplicate
        f"C,80.00,{PAID_ON},R-C,card",  # 4 a recorded reference with another amount
        f"A,5.00,{PAID_ON},R-E0,card",  # 5 a recorded reference of another case
        f"NOPE,10.00,{PAID_ON},R-N,cash",  # 6 no such case
        f"D,60.00,{PAID_ON},R-D1,cheque",  # 7 applied
        f"D,50.00,{PAID_ON},R-D2,cheque",  # 8 with line 7, more than D's balance
        f"A,abc,{PAID_ON},R-X1,card",  # 9
        "A,10.00,2026-13-01,R-X2,card",  # 10
        f"A,10.00,{PAID_ON},R-X3,bitcoin",  # 11
        f"A,10.00,{future},R-X4,card",  # 12
        f"E,10.00,{PAID_ON},R-E,card",  # 13 applied
        f"E,10.00,{PAID_ON},R-E,card",  # 14 the same reference again in the file
    ))
    assert job["state"] == "succeeded", job["error"]
    expected_errors = [
        ["4", "C", "reference", "already recorded for another case or amount (a reference is unique per bank)"],
        ["5", "A", "reference", "already recorded for another case or amount (a reference is unique per bank)"],
        ["6", "NOPE", "case_id", "no case has this case_id"],
        ["8", "D", "amount", "exceeds the case's balance left by the file's earlier payments to it (40.00)"],
        ["9", "A", "amount", "must be a decimal number like 1234.56"],
        ["10", "A", "paid_on", "2026-13-01 is not a date"],
        ["11", "A", "method", "must be one of transfer, card, cash, cheque, other"],
        ["12", "A", "paid_on", "must not be in the future"],
        ["14", "E", "reference", "duplicate reference: first seen on line 13"],
    ]
    assert job["result"] == {
        "rows_total": 13, "rows_applied": 3, "rows_duplicate": 1, "rows_rejected": 9, "cases_paid_off": 0,
        "errors_sample": [dict(zip(("line", "case_id", "field", "message"), [int(e[0]), *e[1:]]))
                          for e in expected_errors]}
    assert job["progress"] == {"done": 13, "total": 13}
    assert error_csv(client, admin_headers, job["id"]) == [["line", "case_id", "field", "message"], *expected_errors]
    assert recovered(uow) == {"A": "100.00", "B": "50.00", "C": "70.00", "E": "15.00", "D": "60.00"}
    assert query(uow, "SELECT c.case_id, p.reference, p.amount::text, p.paid_on::text, p.method::text, "
                      "p.job_id::text, p.created_by FROM payments p JOIN cases_processed c ON c.id = p.case_pk "
                      "WHERE p.job_id IS NOT NULL ORDER BY p.id") == [
        ("A", "R-A", "100.00", PAID_ON, "transfer", job["id"], job["created_by"]),
        ("D", "R-D1", "60.00", PAID_ON, "cheque", job["id"], job["created_by"]),
        ("E", "R-E", "10.00", PAID_ON, "card", job["id"], job["created_by"])]


def test_a_row_with_several_problems_reports_each_in_column_order(client, admin_headers, make_case):
    make_case(case_id="A")
    job = upload(client, admin_headers, csv_file(f"A,0,{(today() + timedelta(days=3)).isoformat()},,settlement,extra"))
    assert job["result"]["rows_rejected"] == 1
    assert error_csv(client, admin_headers, job["id"])[1:] == [
        ["2", "A", "_", "has 6 fields but the header has 5"],
        ["2", "A", "amount", "must be greater than 0.00"],
        ["2", "A", "paid_on", "must not be in the future"],
        ["2", "A", "reference", "must be 1 to 128 characters"],
        ["2", "A", "method", "must be one of transfer, card, cash, cheque, other"],
    ]


def test_header_names_match_in_any_case_with_a_bom_and_the_method_column_is_optional(client, admin_headers, uow,
                                                                                     make_case):
    make_case(case_id="A")
    data = b"\xef\xbb\xbf" + csv_file(f" R-1 , A ,12.5,{PAID_ON}", header=" Reference ,Case_ID,AMOUNT,Paid_On")
    result = applied(client, admin_headers, data)
    assert (result["rows_applied"], result["rows_rejected"]) == (1, 0)
    assert query(uow, "SELECT reference, amount::text, method::text FROM payments") == [("R-1", "12.50", "other")]


def test_a_row_longer_than_a_header_without_the_method_column_is_rejected_and_the_others_applied(
        client, admin_headers, make_case):
    make_case(case_id="A")
    job = upload(client, admin_headers, csv_file(f"A,10.00,{PAID_ON},R-1", f"A,10.00,{PAID_ON},R-2,card",
                                                 header="case_id,amount,paid_on,reference"))
    assert (job["state"], job["result"]["rows_applied"], job["result"]["rows_rejected"]) == ("succeeded", 1, 1)
    assert error_csv(client, admin_headers, job["id"])[1:] == [["3", "A", "_", "has 5 fields but the header has 4"]]


def test_a_missing_column_fails_the_job_naming_it_and_writes_nothing(client, admin_headers, uow, make_case):
    make_case(case_id="A")
    job = upload(client, admin_headers, csv_file("A,10.00,R-1", header="case_id,amount,reference"))
    assert job["state"] == "failed"
    assert job["error"]["title"] == "Missing columns"
    assert "the header has no column paid_on" in job["error"]["detail"]
    assert query(uow, "SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM ingest_errors)") == [(0, 0)]
    assert recovered(uow) == {"A": None}


# ---- the ledger's effect -------------------------------------------------------------------------

def test_a_payment_of_the_whole_balance_resolves_the_case_with_a_paid_in_full_history_entry(client, admin_headers,
                                                                                           uow, make_case):
    paid = make_case(case_id="FULL", due_amount="300.00", status="In Progress")
    partly = make_case(case_id="PART", due_amount="300.00", status="In Progress")
    result = applied(client, admin_headers, csv_file(f"FULL,120.00,{PAID_ON},R-1,card",
                                                     f"FULL,180.00,{PAID_ON},R-2,card",
                                                     f"PART,299.99,{PAID_ON},R-3,card"))
    assert (result["rows_applied"], result["cases_paid_off"]) == (3, 1)
    assert query(uow, "SELECT case_id, status::text, amount_recovered::text, resolved_at IS NOT NULL, "
                      "resolved_by_payment FROM cases_processed WHERE id IN (:a, :b) ORDER BY id",
                 a=paid, b=partly) == [("FULL", "Resolved", "300.00", True, True),
                                       ("PART", "In Progress", "299.99", False, False)]
    history = client.get(f"/api/cases/{paid}/history", headers=admin_headers).json
    assert [(h["from"], h["to"], h["comment"], h["by"]) for h in history if h["kind"] == "status"] == [
        ("In Progress", "Resolved", "paid in full", client.get("/api/auth/me", headers=admin_headers).json["id"])]


def test_a_payment_that_does_not_fit_is_rejected_and_the_later_ones_that_fit_are_applied(client, admin_headers,
                                                                                         uow, make_case):
    make_case(case_id="SEQ", due_amount="100.00", status="In Progress")
    job = upload(client, admin_headers, csv_file(f"SEQ,80.00,{PAID_ON},R-S1,card",
                                                 f"SEQ,50.00,{PAID_ON},R-S2,card",  # 3: only 20.00 left
                                                 f"SEQ,20.00,{PAID_ON},R-S3,card"))  # as a single payment would
    assert (job["result"]["rows_applied"], job["result"]["rows_rejected"], job["result"]["cases_paid_off"]) == (2, 1, 1)
    assert error_csv(client, admin_headers, job["id"])[1:] == [
        ["3", "SEQ", "amount", "exceeds the case's balance left by the file's earlier payments to it (20.00)"]]
    assert query(uow, "SELECT status::text, amount_recovered::text FROM cases_processed") == [("Resolved", "100.00")]


def test_a_file_payment_keeps_the_open_promise_it_reaches(client, admin_headers, uow, make_case):
    case = make_case(case_id="PROM", due_amount="1000.00")
    with uow() as u:
        u.connection.execute(text("INSERT INTO promises (case_pk, amount, due_date) VALUES (:pk, 300, :due)"),
                             {"pk": case, "due": today() + timedelta(days=5)})
        u.commit()
    result = applied(client, admin_headers, csv_file(f"PROM,300.00,{today().isoformat()},R-P,transfer"))
    assert result["rows_applied"] == 1
    assert query(uow, "SELECT status::text, paid::text, closed_at IS NOT NULL FROM promises") == [
        ("kept", "300.00", True)]


def test_the_same_file_sent_twice_changes_nothing_the_second_time(client, admin_headers, uow, make_case):
    for name in ("A", "B"):
        make_case(case_id=name, due_amount="500.00")
    data = csv_file(f"A,100.00,{PAID_ON},R-A1,card", f"A,400.00,{PAID_ON},R-A2,card", f"B,20.00,{PAID_ON},R-B,cash",
                    f"NOPE,1.00,{PAID_ON},R-N,cash")
    state = ("SELECT (SELECT json_agg(c ORDER BY id) FROM cases_processed c), (SELECT count(*) FROM payments), "
             "(SELECT count(*) FROM case_status_history)")
    first = applied(client, admin_headers, data)
    assert (first["rows_applied"], first["rows_rejected"], first["cases_paid_off"]) == (3, 1, 1)
    before = query(uow, state)
    second = applied(client, admin_headers, data)
    assert second == {"rows_total": 4, "rows_applied": 0, "rows_duplicate": 3, "rows_rejected": 1,
                      "cases_paid_off": 0, "errors_sample": first["errors_sample"]}
    assert query(uow, state) == before


# ---- the request ----------------------------------------------------------------------------------

ROWS = [{"case_id": "A", "amount": "10.50", "paid_on": PAID_ON, "reference": "R-1", "method": "card"},
        {"case_id": "B", "amount": 7, "paid_on": PAID_ON, "reference": "R-2"}]


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/csv", csv_file(f"A,10.50,{PAID_ON},R-1,card", f"B,7,{PAID_ON},R-2,")),
    ("application/json", json.dumps(ROWS).encode()),
    ("application/x-ndjson", "\n".join(json.dumps(r) for r in ROWS).encode()),
], ids=["csv", "json", "ndjson"])
def test_csv_json_and_ndjson_files_apply_the_same_payments(client, admin_headers, uow, make_case, content_type, body):
    make_case(case_id="A")
    make_case(case_id="B")
    result = applied(client, admin_headers, body, content_type)
    assert (result["rows_total"], result["rows_applied"], result["rows_rejected"]) == (2, 2, 0)
    assert query(uow, "SELECT reference, amount::text, method::text FROM payments ORDER BY id") == [
        ("R-1", "10.50", "card"), ("R-2", "7.00", "other")]


def test_a_json_file_sent_as_a_multipart_part_is_read_as_json(client, admin_headers, uow, make_case):
    make_case(case_id="A")
    make_case(case_id="B")
    response = client.post("/api/payments/upload", headers=admin_headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(json.dumps(ROWS).encode()), "payments.json")})
    assert response.status_code == 202
    job = wait_for_job(client, admin_headers, response.json["id"])
    assert job["result"]["rows_applied"] == 2 and job["params"]["format"] == "json"


def test_the_upload_is_for_admins_and_refuses_empty_bodies_and_other_media_types(client, admin_headers, agent_headers):
    _agent, headers = agent_headers()
    assert client.post("/api/payments/upload", data=b"x", content_type="text/csv", headers=headers).status_code == 403
    assert client.post("/api/payments/upload", data=b"", content_type="text/csv",
                       headers=admin_headers).status_code == 400
    assert client.post("/api/payments/upload", data=b"x", content_type="application/pdf",
                       headers=admin_headers).status_code == 415


def test_the_same_idempotency_key_answers_the_first_job(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": "bank-file-2026-12-03"}
    data = csv_file(f"A,1.00,{PAID_ON},R-1,card")
    first = client.post("/api/payments/upload", data=data, content_type="text/csv", headers=headers)
    again = client.post("/api/payments/upload", data=data, content_type="text/csv", headers=headers)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"


def test_a_key_used_for_a_case_upload_is_409_for_a_payments_file_and_stores_nothing(client, admin_headers, uow):
    headers = {**admin_headers, "Idempotency-Key": "monday-file"}
    cases = client.post("/api/cases/upload", data=b"case_id,bank_code,borrower_name,loan_amount,due_amount,"
                        b"days_past_due,priority,region\nK1,HDFC,Asha,10.00,5.00,3,Low,North\n",
                        content_type="text/csv", headers=headers)
    payments = client.post("/api/payments/upload", data=csv_file(f"K1,1.00,{PAID_ON},R-K,card"),
                           content_type="text/csv", headers=headers)
    assert (cases.status_code, payments.status_code) == (202, 409)
    assert payments.mimetype == "application/problem+json" and "Idempotency-Key" in payments.json["errors"]
    assert query(uow, "SELECT type::text FROM jobs") == [("ingest",)]


# ---- faults -----------------------------------------------------------------------------------------

KILL_ROWS = 200_000


@pytest.fixture
def beat(settings, tmp_path):
    """Celery beat: it runs the reconciler every RECONCILE_INTERVAL_SECONDS (2 s in the tests)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--schedule", str(tmp_path / "schedule"),
         "--loglevel", "WARNING"],
        cwd=ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(30)


@pytest.mark.slow
def test_a_worker_killed_mid_file_is_retried_and_every_payment_is_applied_exactly_once(settings, uow, make_user,
                                                                                      beat):
    admin = make_user("admin")
    with uow() as u:
        u.connection.execute(text(
            "INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due, "
            "priority, region, team) SELECT 'K-' || g, 'HDFC', 'B', 1000, 500, 10, 'Low', 'North', 'call_center' "
            "FROM generate_series(1, :n) g"), {"n": KILL_ROWS})
        u.commit()
    data = csv_file(*(f"K-{k},100.00,{PAID_ON},KREF-{k},transfer" for k in range(1, KILL_ROWS + 1)))
    # a queue of its own, so that the session's worker does not take the first attempt
    doomed = Worker(settings, queues="payments-doomed", concurrency=1, name="doomed").start()
    sender = Celery(broker=settings.redis_url)
    try:
        with uow() as u:
            job, _ = ingestion.start_upload(
                u, body=io.BytesIO(data), fmt="csv", filename="payments.csv", created_by=admin.id,
                chunk_bytes=settings.upload_chunk_bytes, job_type=JobType.PAYMENTS,
                enqueue=lambda j: sender.send_task("payments.run", args=[str(j.id)], queue="payments-doomed"))
        eventually(lambda: the_job(uow, job.id).progress_done > 0, 30, "progress of the first attempt")
        doomed.kill()
    finally:
        doomed.stop()
    killed = the_job(uow, job.id)
    assert (killed.state, killed.attempts) == (JobState.RUNNING, 1)  # it really died in the middle
    assert query(uow, "SELECT count(*) FROM payments") == [(0,)]

    # the reconciler hands it to the session's worker
    done = eventually(lambda: (j := the_job(uow, job.id)).state.finished and j, 60, "the retried job")
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 2)
    assert (done.result["rows_applied"], done.result["rows_rejected"]) == (KILL_ROWS, 0)
    assert query(uow, "SELECT count(*), count(DISTINCT reference), sum(amount)::text FROM payments") == [
        (KILL_ROWS, KILL_ROWS, f"{100 * KILL_ROWS}.00")]
    assert query(uow, "SELECT count(*) FROM cases_processed WHERE amount_recovered = 100.00") == [(KILL_ROWS,)]


def the_job(uow, job_id):
    with uow() as u:
        return u.jobs.get(job_id)

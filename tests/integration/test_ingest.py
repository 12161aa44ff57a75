"""Ingestion through the API and a real Celery worker: the rules of the upload contract."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
HEADER = "case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority,region"
pytestmark = pytest.mark.usefixtures("worker")


def csv_file(*rows: str, header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *rows, ""]).encode()


def ingest(client, headers, data: bytes, content_type: str = "text/csv") -> dict:
    response = client.post("/api/cases/upload", data=data, content_type=content_type, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return wait_for_job(client, headers, response.json["id"])


def succeeded(client, headers, data: bytes, content_type: str = "text/csv") -> dict:
    job = ingest(client, headers, data, content_type)
    assert job["state"] == "succeeded", job["error"]
    return job["result"]


def query(uow, sql: str, **params) -> list:
    with uow() as u:
        return [tuple(row) for row in u.connection.execute(text(sql), params)]


def cases(uow) -> dict:
    rows = query(uow, "SELECT case_id, bank_code, borrower_name, loan_amount::text, due_amount::text, "
                      "days_past_due, priority::text, region, team::text, status::text, assigned_to, version "
                      "FROM cases_processed ORDER BY id")
    return {row[0]: row[1:] for row in rows}


def error_csv(client, headers, job_id) -> list[list[str]]:
    response = client.get(f"/api/jobs/{job_id}/errors", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


# ---- loading ---------------------------------------------------------------------------------------

def test_a_generated_file_loads_every_case_routed_by_its_dpd(client, admin_headers, uow, gen_cases):
    data = gen_cases(500)
    job = ingest(client, admin_headers, data)
    assert job["state"] == "succeeded"
    assert job["result"] == {"rows_total": 500, "rows_inserted": 500, "rows_updated": 0, "rows_rejected": 0,
                             "released_for_reassignment": 0, "errors_sample": []}
    assert job["progress"] == {"done": len(data), "total": len(data)}  # the bytes of the file, all read
    generated = list(csv.DictReader(io.StringIO(data.decode())))
    stored = cases(uow)
    assert len(stored) == 500
    for row in generated:
        dpd = int(row["days_past_due"])
        team = "call_center" if dpd <= 30 else "field" if dpd <= 90 else "legal"
        assert stored[row["case_id"]] == (row["bank_code"], row["borrower_name"], row["loan_amount"], row["due_amount"],
                                          dpd, row["priority"], row["region"], team, "Pending", None, 1)


def test_routing_follows_the_bands_stored_at_the_time(client, admin_headers, uow):
    with uow() as u:
        u.connection.execute(text("UPDATE assignment_bands SET max_dpd = 10 WHERE team = 'call_center'"))
        u.commit()
    succeeded(client, admin_headers, csv_file("A,B,C,1,1,10,Low,R", "B,B,C,1,1,11,Low,R"))
    assert {k: v[7] for k, v in cases(uow).items()} == {"A": "call_center", "B": "field"}


def test_bom_crlf_and_quoted_fields_with_commas_and_newlines_are_read_faithfully(client, admin_headers, uow):
    quoted = 'Q1,HDFC,"Doe, Jane\r\nJr.",10.00,5.00,3,Low,"North, East"'
    data = b"\xef\xbb\xbf" + csv_file(quoted, "Q2,SBI,Ravi,1,1,1,High,West", newline="\r\n")
    result = succeeded(client, admin_headers, data)
    assert (result["rows_total"], result["rows_rejected"]) == (2, 0)
    assert cases(uow)["Q1"][1] == "Doe, Jane\r\nJr." and cases(uow)["Q1"][6] == "North, East"
    assert query(uow, "SELECT line_no, case_id FROM cases_raw ORDER BY line_no") == [(2, "Q1"), (4, "Q2")]


def test_header_names_match_in_any_case_and_extra_columns_stay_in_the_raw_record_only(client, admin_headers, uow):
    header = " Case_ID ,BANK_CODE,Borrower_Name,loan_amount,Due_Amount,DAYS_PAST_DUE,Priority,region,Notes"
    succeeded(client, admin_headers, csv_file("X1,HDFC,Asha, 12.5 ,3,40,critical,South,call after 6", header=header))
    assert cases(uow)["X1"] == ("HDFC", "Asha", "12.50", "3.00", 40, "Critical", "South", "field", "Pending", None, 1)
    assert query(uow, "SELECT record FROM cases_raw") == [("X1,HDFC,Asha, 12.5 ,3,40,critical,South,call after 6",)]


def test_a_header_only_file_succeeds_with_nothing_loaded(client, admin_headers, uow):
    result = succeeded(client, admin_headers, csv_file(newline="\r\n"))
    assert (result["rows_total"], result["rows_inserted"]) == (0, 0)
    assert cases(uow) == {}


def test_a_file_with_only_a_bom_and_blank_lines_fails_for_want_of_a_header(client, admin_headers):
    job = ingest(client, admin_headers, b"\xef\xbb\xbf\r\n\r\n")
    assert job["state"] == "failed"
    assert job["error"] == {"title": "Unreadable file", "detail": "the file has no header row"}


def test_a_missing_column_fails_the_job_naming_it_and_writes_nothing(client, admin_headers, uow):
    header = HEADER.replace(",region", "").replace("bank_code,", "")
    job = ingest(client, admin_headers, csv_file("A,Ann,1,1,1,Low", header=header))
    assert job["state"] == "failed"
    assert job["error"]["title"] == "Missing columns"
    assert "bank_code, region" in job["error"]["detail"]
    assert query(uow, "SELECT (SELECT count(*) FROM cases_processed), (SELECT count(*) FROM cases_raw)") == [(0, 0)]


def test_a_non_utf8_file_fails_the_job_saying_exactly_where(client, admin_headers, uow):
    data = csv_file("A,B,C,1,1,1,Low,R", "B,B,Jos\xe9,1,1,1,Low,R")
    data = data.replace("Jos\xe9".encode(), "Jos\xe9".encode("latin-1"))  # the same name, saved as Latin-1
    job = ingest(client, admin_headers, data)
    assert job["state"] == "failed"
    assert job["error"]["title"] == "File is not UTF-8"
    offset = data.index(b"\xe9")
    assert f"byte 0xE9 on line 3 (byte offset {offset})" in job["error"]["detail"]
    assert cases(uow) == {}


# ---- rejected rows -----------------------------------------------------------------------------------

BAD_ROWS = [
    "G1,HDFC,Asha,100.00,10.00,5,Low,North",         # line 2: fine
    "B1,HDFC,Asha,100.005,10.00,5,Low,North",        # line 3: 3 decimals
    "B2,HDFC,Asha,100.00,-10.00,5,Low,North",        # line 4: negative
    "B3,HDFC,Asha,100.00,10.00,5.5,Low,North",       # line 5: non-integer DPD
    "B4,HDFC,Asha,100.00,10.00,5,Urgent,North",      # line 6: unknown priority
    "B5,,Asha,100.00,10.00,5,Low,",                  # line 7: empty bank_code and region
    "G1,HDFC,Asha,100.00,10.00,5,Low,North",         # line 8: duplicate of line 2
    ",HDFC,Asha,abc,10.00,5,Low,North",              # line 9: empty case_id, bad amount
    "G2,HDFC,Asha,100.00,10.00,91,HIGH,North",       # line 10: fine
]


def test_bad_rows_are_rejected_with_their_line_and_the_good_rows_still_load(client, admin_headers, uow):
    job = ingest(client, admin_headers, csv_file(*BAD_ROWS))
    result = job["result"]
    counts = (result["rows_total"], result["rows_inserted"], result["rows_updated"], result["rows_rejected"])
    assert counts == (9, 2, 0, 7)
    assert [(e["line"], e["case_id"], e["field"]) for e in result["errors_sample"]] == [
        (3, "B1", "loan_amount"), (4, "B2", "due_amount"), (5, "B3", "days_past_due"), (6, "B4", "priority"),
        (7, "B5", "bank_code"), (7, "B5", "region"), (8, "G1", "case_id"), (9, None, "case_id"),
        (9, None, "loan_amount"),
    ]
    messages = {(e["line"], e["field"]): e["message"] for e in result["errors_sample"]}
    assert messages[(3, "loan_amount")] == "must have at most 2 decimals"
    assert messages[(4, "due_amount")] == "must not be negative"
    assert messages[(5, "days_past_due")] == "must be a whole number of days"
    assert messages[(6, "priority")] == "must be one of Low, Medium, High, Critical"
    assert messages[(8, "case_id")] == "duplicate case_id: first seen on line 2"
    assert set(cases(uow)) == {"G1", "G2"} and cases(uow)["G2"][5] == "High"
    assert error_csv(client, admin_headers, job["id"]) == [["line", "case_id", "field", "message"]] + [
        [str(e["line"]), e["case_id"] or "", e["field"], e["message"]] for e in result["errors_sample"]]


def test_every_row_is_kept_raw_with_its_line_accepted_or_not(client, admin_headers, uow):
    job = ingest(client, admin_headers, csv_file(*BAD_ROWS, "short,row"))
    raw = query(uow, "SELECT line_no, case_id, accepted, record FROM cases_raw WHERE job_id = :j ORDER BY line_no",
                j=job["id"])
    assert [(line, accepted) for line, _, accepted, _ in raw] == [
        (2, True), (3, False), (4, False), (5, False), (6, False), (7, False), (8, False), (9, False), (10, True),
        (11, False)]
    assert [record for *_, record in raw] == [*BAD_ROWS, "short,row"]  # each row's text as received
    assert raw[9][1:3] == ("short", False)


def test_the_error_csv_has_every_problem_while_the_sample_stops_at_100(client, admin_headers):
    rows = [f"C{n},HDFC,Asha,1.234,1,1,Low,North" for n in range(150)]
    job = ingest(client, admin_headers, csv_file(*rows))
    assert job["result"]["rows_rejected"] == 150 and len(job["result"]["errors_sample"]) == 100
    lines = error_csv(client, admin_headers, job["id"])
    assert len(lines) == 151 and lines[-1] == ["151", "C149", "loan_amount", "must have at most 2 decimals"]


def test_a_row_with_more_fields_than_the_header_is_rejected_and_kept_whole(client, admin_headers, uow):
    result = succeeded(client, admin_headers, csv_file("A,B,C,1,1,1,Low,R,surplus"))
    assert result["errors_sample"] == [{"line": 2, "case_id": "A", "field": "_",
                                        "message": "has 9 fields but the header has 8"}]
    assert query(uow, "SELECT record FROM cases_raw") == [("A,B,C,1,1,1,Low,R,surplus",)]


def test_text_postgres_cannot_store_is_rejected_and_kept_raw_as_a_replacement_character(client, admin_headers, uow):
    data = csv_file("N1,HDFC,Asha,1,1,1,Low,No\x00rth", "N2,HDFC,Asha,1,1,1,Low,North")
    result = succeeded(client, admin_headers, data)
    assert (result["rows_inserted"], result["rows_rejected"]) == (1, 1)
    assert result["errors_sample"][0]["field"] == "region"
    assert query(uow, "SELECT record FROM cases_raw WHERE line_no = 2") == [("N1,HDFC,Asha,1,1,1,Low,No\ufffdrth",)]


# ---- JSON and NDJSON -------------------------------------------------------------------------------

def case_object(case_id, **changes):
    return {"case_id": case_id, "bank_code": "HDFC", "borrower_name": "Asha", "loan_amount": 1200.5,
            "due_amount": "300", "days_past_due": 12, "priority": "medium", "region": "North", **changes}


def test_a_json_array_is_ingested_with_numbers_kept_exact_and_elements_numbered(client, admin_headers, uow):
    body = json.dumps([case_object("J1"), case_object("J2", due_amount=0.125), 5, case_object("J3", extra=[1])])
    job = ingest(client, admin_headers, body.encode(), "application/json")
    assert job["result"]["rows_total"] == 4 and job["result"]["rows_inserted"] == 2
    assert [(e["line"], e["field"]) for e in job["result"]["errors_sample"]] == [(2, "due_amount"), (3, "_")]
    assert cases(uow)["J1"][2:6] == ("1200.50", "300.00", 12, "Medium")
    records = dict(query(uow, "SELECT line_no, record FROM cases_raw"))  # the JSON text of each element
    assert records[3] == "5" and json.loads(records[4])["extra"] == [1] and '"loan_amount":1200.5' in records[1]
    assert json.loads(records[2], parse_float=str)["due_amount"] == "0.125"


def test_a_json_object_without_a_column_is_a_rejected_row_not_a_failed_file(client, admin_headers, uow):
    incomplete = case_object("J2")
    del incomplete["region"]
    job = ingest(client, admin_headers, json.dumps([case_object("J1"), incomplete]).encode(), "application/json")
    assert job["state"] == "succeeded" and job["result"]["rows_inserted"] == 1
    assert job["result"]["errors_sample"] == [{"line": 2, "case_id": "J2", "field": "region", "message": "is required"}]


def test_a_json_body_that_is_not_an_array_fails_the_job(client, admin_headers, uow):
    job = ingest(client, admin_headers, json.dumps(case_object("J1")).encode(), "application/json")
    assert job["state"] == "failed" and job["error"]["title"] == "Unreadable file"
    assert "must be an array" in job["error"]["detail"]


def test_malformed_json_fails_the_job_and_loads_nothing(client, admin_headers, uow):
    body = json.dumps([case_object("J1"), case_object("J2")])[:-10]
    job = ingest(client, admin_headers, body.encode(), "application/json")
    assert job["state"] == "failed" and "malformed JSON after element 1" in job["error"]["detail"]
    assert cases(uow) == {}


def test_ndjson_is_ingested_line_by_line_and_a_bad_line_is_only_that_row(client, admin_headers, uow):
    lines = [json.dumps(case_object("N1")), "", "{not json", json.dumps(case_object("N2", Region="South"))]
    job = ingest(client, admin_headers, "\n".join(lines).encode(), "application/x-ndjson")
    assert job["result"]["rows_total"] == 3 and job["result"]["rows_inserted"] == 1
    assert [(e["line"], e["field"]) for e in job["result"]["errors_sample"]] == [(3, "_"), (4, "_")]
    assert "names column(s) region more than once" in job["result"]["errors_sample"][1]["message"]
    assert dict(query(uow, "SELECT line_no, record FROM cases_raw"))[3] == "{not json"


# ---- refreshes ---------------------------------------------------------------------------------------

def test_uploading_the_same_file_twice_duplicates_nothing(client, admin_headers, uow, gen_cases):
    data = gen_cases(300)
    first = succeeded(client, admin_headers, data)
    second = succeeded(client, admin_headers, data)
    assert (first["rows_inserted"], first["rows_updated"]) == (300, 0)
    assert (second["rows_inserted"], second["rows_updated"], second["rows_rejected"]) == (0, 300, 0)
    assert query(uow, "SELECT count(*), count(DISTINCT case_id), max(version) FROM cases_processed") == [(300, 300, 1)]
    assert query(uow, "SELECT count(*) FROM cases_raw") == [(600,)]


def assign(uow, case_id: str, agent_id: int, status: str = "In Progress") -> int:
    """Hand the case to the agent the way an assignment run would; returns the case's id."""
    with uow() as u:
        case_pk = u.connection.execute(text(
            "UPDATE cases_processed SET assigned_to = :a, status = :s WHERE case_id = :c RETURNING id"),
            {"a": agent_id, "s": status, "c": case_id}).scalar_one()
        u.connection.execute(text("INSERT INTO case_assignments (case_pk, assigned_to) VALUES (:p, :a)"),
                             {"p": case_pk, "a": agent_id})
        u.commit()
    return case_pk


def test_a_refresh_updates_values_but_keeps_status_and_assignment(client, admin_headers, uow, make_user):
    agent = make_user("call_center_agent")
    succeeded(client, admin_headers, csv_file("R1,HDFC,Asha,100.00,50.00,10,Low,North"))
    assign(uow, "R1", agent.id)
    result = succeeded(client, admin_headers, csv_file("R1,SBI,Asha K,100.00,40.00,20,high,South"))
    assert (result["rows_inserted"], result["rows_updated"], result["released_for_reassignment"]) == (0, 1, 0)
    assert cases(uow)["R1"] == ("SBI", "Asha K", "100.00", "40.00", 20, "High", "South", "call_center",
                                "In Progress", agent.id, 2)


def test_a_refresh_moving_an_assigned_case_to_another_team_releases_it(client, admin_headers, uow, make_user):
    agent = make_user("call_center_agent")
    rows = [f"{case_id},HDFC,Asha,100,50,10,Low,North" for case_id in ("M1", "M2", "M3", "M4")]
    succeeded(client, admin_headers, csv_file(*rows))
    moved, resolved = assign(uow, "M1", agent.id), assign(uow, "M2", agent.id, status="Resolved")
    pending, staying = assign(uow, "M3", agent.id, status="Pending"), assign(uow, "M4", agent.id)
    job = ingest(client, admin_headers, csv_file(*[r.replace(",10,", ",45,") for r in rows[:3]], rows[3]))
    assert job["result"]["released_for_reassignment"] == 2
    assert cases(uow)["M1"][7:] == ("field", "Pending", None, 2)
    assert cases(uow)["M2"][7:] == ("field", "Resolved", agent.id, 2)  # a resolved case keeps its agent
    assert cases(uow)["M3"][7:] == ("field", "Pending", None, 2)
    assert cases(uow)["M4"][7:] == ("call_center", "In Progress", agent.id, 1)
    reason = "DPD now routes the case to field"
    assignments = dict((pk, rest) for pk, *rest in query(
        uow, "SELECT case_pk, released_at IS NOT NULL, released_by, release_reason FROM case_assignments"))
    assert assignments == {moved: [True, None, reason], resolved: [False, None, None],
                           pending: [True, None, reason], staying: [False, None, None]}
    moves = query(uow, "SELECT case_pk, by, from_value::text, to_value::text, comment, job_id::text "
                       "FROM case_status_history")
    assert moves == [(moved, None, "In Progress", "Pending", reason, job["id"])]  # a Pending case makes no move

    def entries(case_pk):
        history = client.get(f"/api/cases/{case_pk}/history", headers=admin_headers).json
        return [(h["kind"], h["from"], h["to"], h["by"], h["comment"]) for h in history]

    assigned = ("assignment", None, agent.id, None, None)  # by `assign` above
    released = ("assignment", agent.id, None, None, reason)
    assert entries(moved) == [assigned, released, ("status", "In Progress", "Pending", None, reason)]
    assert entries(pending) == [assigned, released]
    assert entries(staying) == entries(resolved) == [assigned]


# ---- the borrower: optional borrower_ref and timezone ----------------------------------------------

BORROWER_HEADER = HEADER + ",borrower_ref,timezone"


def borrowers(uow) -> dict:
    """case_id -> (borrower_ref, timezone, version)."""
    return {row[0]: row[1:] for row in query(
        uow, "SELECT case_id, borrower_ref, timezone, version FROM cases_processed ORDER BY id")}


def test_borrower_ref_and_timezone_are_stored_with_the_case_whatever_the_header_case(client, admin_headers, uow):
    header = HEADER + ", Borrower_Ref ,TIMEZONE"
    result = succeeded(client, admin_headers, csv_file("T1,HDFC,Asha,1,1,1,Low,R, CUST-1 , America/Chicago ",
                                                       "T2,HDFC,Asha,1,1,1,Low,R,CUST-1,Asia/Kolkata",
                                                       "T3,HDFC,Ravi,1,1,1,Low,R,,", header=header))
    assert (result["rows_inserted"], result["rows_rejected"]) == (3, 0)
    assert borrowers(uow) == {"T1": ("CUST-1", "America/Chicago", 1), "T2": ("CUST-1", "Asia/Kolkata", 1),
                              "T3": (None, None, 1)}


def test_a_generated_file_with_borrowers_loads_every_borrower(client, admin_headers, uow):
    data = subprocess.run([sys.executable, str(ROOT / "bench" / "gen_cases.py"), "300", "--borrowers"],
                          check=True, capture_output=True).stdout
    assert succeeded(client, admin_headers, data)["rows_inserted"] == 300
    generated = csv.DictReader(io.StringIO(data.decode()))
    assert borrowers(uow) == {r["case_id"]: (r["borrower_ref"], r["timezone"], 1) for r in generated}


def test_a_re_upload_refreshes_the_borrower_columns_and_an_empty_cell_clears_them(client, admin_headers, uow):
    succeeded(client, admin_headers, csv_file("U1,HDFC,Asha,1,1,1,Low,R,CUST-1,America/Chicago",
                                              "U2,HDFC,Asha,1,1,1,Low,R,CUST-2,America/Denver",
                                              "U3,HDFC,Asha,1,1,1,Low,R,CUST-3,Asia/Kolkata", header=BORROWER_HEADER))
    result = succeeded(client, admin_headers, csv_file("U1,HDFC,Asha,1,1,1,Low,R,CUST-9,Europe/London",
                                                       "U2,HDFC,Asha,1,1,1,Low,R,,",
                                                       "U3,HDFC,Asha,1,1,1,Low,R,CUST-3,Asia/Kolkata",
                                                       header=BORROWER_HEADER))
    assert (result["rows_inserted"], result["rows_updated"]) == (0, 3)
    assert borrowers(uow) == {"U1": ("CUST-9", "Europe/London", 2), "U2": (None, None, 2),
                              "U3": ("CUST-3", "Asia/Kolkata", 1)}  # the same values again: not rewritten


def test_a_file_without_the_borrower_columns_keeps_their_stored_values(client, admin_headers, uow):
    succeeded(client, admin_headers, csv_file("K1,HDFC,Asha,1,1,1,Low,R,CUST-1,America/Chicago",
                                              "K2,HDFC,Asha,1,1,1,Low,R,CUST-2,Asia/Kolkata", header=BORROWER_HEADER))
    result = succeeded(client, admin_headers, csv_file("K1,HDFC,Asha,1,1,1,Low,R", "K2,HDFC,Asha,9,9,9,Low,R"))
    assert (result["rows_inserted"], result["rows_updated"]) == (0, 2)
    assert borrowers(uow) == {"K1": ("CUST-1", "America/Chicago", 1),  # nothing changed: not even rewritten
                              "K2": ("CUST-2", "Asia/Kolkata", 2)}  # its amounts changed, its borrower kept
    succeeded(client, admin_headers, csv_file("K1,HDFC,Asha,1,1,1,Low,R,Europe/Paris",
                                              header=HEADER + ",timezone"))
    assert borrowers(uow)["K1"] == ("CUST-1", "Europe/Paris", 2)  # one optional column sent, the other kept


def test_an_unknown_timezone_rejects_the_row_with_its_line_in_the_errors(client, admin_headers, uow):
    job = ingest(client, admin_headers, csv_file("Z1,HDFC,Asha,1,1,1,Low,R,CUST-1,America/Chicago",
                                                 "Z2,HDFC,Asha,1,1,1,Low,R,CUST-2,Mars/Olympus_Mons",
                                                 "Z3,HDFC,Asha,1,1,1,Low,,CUST-3,america/chicago",
                                                 header=BORROWER_HEADER))
    result = job["result"]
    assert (result["rows_inserted"], result["rows_rejected"]) == (1, 2)
    assert error_csv(client, admin_headers, job["id"]) == [
        ["line", "case_id", "field", "message"],
        ["3", "Z2", "timezone", "is not an IANA time zone name (like America/Chicago)"],
        ["4", "Z3", "region", "must not be empty"],
        ["4", "Z3", "timezone", "must be spelled as IANA does: America/Chicago"]]
    assert set(borrowers(uow)) == {"Z1"}
    assert query(uow, "SELECT line_no, accepted, split_part(record, ',', 10) FROM cases_raw ORDER BY line_no") == [
        (2, True, "America/Chicago"), (3, False, "Mars/Olympus_Mons"), (4, False, "america/chicago")]


def test_json_sets_clears_and_keeps_the_borrower_columns_key_by_key(client, admin_headers, uow):
    first = [case_object("J1", borrower_ref="CUST-1", timezone="America/Chicago"),
             case_object("J2", borrower_ref="CUST-2", timezone="Asia/Kolkata"),
             case_object("J3", Borrower_Ref="CUST-3", TimeZone="Europe/London")]
    succeeded(client, admin_headers, json.dumps(first).encode(), "application/json")
    second = [case_object("J1"),  # keys absent: not sent, kept
              case_object("J2", borrower_ref=None, timezone=""),  # null and empty: cleared
              case_object("J3", timezone="Europe/Paris")]  # one sent, the other kept
    result = succeeded(client, admin_headers, json.dumps(second).encode(), "application/json")
    assert (result["rows_updated"], result["rows_rejected"]) == (3, 0)
    assert borrowers(uow) == {"J1": ("CUST-1", "America/Chicago", 1), "J2": (None, None, 2),
                              "J3": ("CUST-3", "Europe/Paris", 2)}


def test_ndjson_carries_the_borrower_columns_and_an_unknown_timezone_rejects_its_line(client, admin_headers, uow):
    lines = [json.dumps(case_object("N1", borrower_ref="CUST-1", timezone="Pacific/Honolulu")),
             json.dumps(case_object("N2", timezone="Pacific/Atlantis")),
             json.dumps(case_object("N3", timezone=5))]
    job = ingest(client, admin_headers, "\n".join(lines).encode(), "application/x-ndjson")
    assert (job["result"]["rows_inserted"], job["result"]["rows_rejected"]) == (1, 2)
    assert [(e["line"], e["case_id"], e["field"], e["message"]) for e in job["result"]["errors_sample"]] == [
        (2, "N2", "timezone", "is not an IANA time zone name (like America/Chicago)"),
        (3, "N3", "timezone", "must be a string")]
    assert borrowers(uow) == {"N1": ("CUST-1", "Pacific/Honolulu", 1)}


def test_a_record_is_kept_as_the_text_received_quoted_line_ends_and_all(client, admin_headers, uow):
    data = csv_file('Q1,HDFC,"Asha\r\nRao",1,1,1,Low,North', '"Q2",HDFC, Asha ,1,1,1,Low,"No,rth"', newline="\r\n")
    result = succeeded(client, admin_headers, data)
    assert (result["rows_inserted"], result["rows_rejected"]) == (2, 0)
    assert query(uow, "SELECT line_no, record FROM cases_raw ORDER BY line_no") == [
        (2, 'Q1,HDFC,"Asha\r\nRao",1,1,1,Low,North'), (4, '"Q2",HDFC, Asha ,1,1,1,Low,"No,rth"')]

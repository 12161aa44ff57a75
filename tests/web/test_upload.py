"""POST /api/cases/upload: body kinds, status codes, idempotency. Jobs stay queued here: the
ingestion itself is tests/integration/test_ingest.py's."""
from __future__ import annotations

import io
from dataclasses import replace

import pytest
from sqlalchemy import text

from conftest import login

PROBLEM = "application/problem+json"
CSV = b"case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority,region\nA,B,C,1,1,1,Low,R\n"
JSON = b'[{"case_id": "A", "bank_code": "B", "borrower_name": "C", "loan_amount": 1, "due_amount": 1, ' \
       b'"days_past_due": 1, "priority": "Low", "region": "R"}]'


@pytest.fixture(autouse=True)
def queued_jobs_stay_queued(monkeypatch):
    """No worker of the test run picks these jobs up (it would race the next test's cleanup)."""
    enqueued = []
    monkeypatch.setattr("web.uploads.enqueue", lambda: enqueued.append)
    return enqueued


def post(client, headers, data=CSV, content_type="text/csv", **extra):
    return client.post("/api/cases/upload", data=data, content_type=content_type, headers={**headers, **extra})


def multipart(client, headers, content=CSV, filename="cases.csv", part_type=None, **extra):
    file = (io.BytesIO(content), filename, part_type) if part_type else (io.BytesIO(content), filename)
    return client.post("/api/cases/upload", data={"file": file}, content_type="multipart/form-data",
                       headers={**headers, **extra})


def stored_upload(uow, job_id) -> tuple:
    with uow() as u:
        upload = u.uploads.for_job(job_id)
        with u.uploads.open(upload.id) as stream:
            return upload.media_type, upload.filename, upload.size_bytes, stream.read()


def count(uow, table: str) -> int:
    with uow() as u:
        return u.connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_a_multipart_csv_answers_202_with_the_queued_ingest_job(client, admin_headers, uow, queued_jobs_stay_queued):
    response = multipart(client, admin_headers, filename="../../placements/march.csv")
    assert response.status_code == 202
    job = response.json
    assert [str(j.id) for j in queued_jobs_stay_queued] == [job["id"]]  # enqueued once, after the commit
    assert response.headers["Location"] == f"/api/jobs/{job['id']}"
    assert (job["type"], job["state"], job["result"]) == ("ingest", "queued", None)
    assert job["params"] == {"filename": "march.csv", "format": "csv", "size_bytes": len(CSV)}
    assert stored_upload(uow, job["id"]) == ("csv", "march.csv", len(CSV), CSV)


@pytest.mark.parametrize("filename, part_type, fmt", [
    ("cases.json", None, "json"), ("cases.txt", "application/json", "json"), ("cases.JSONL", None, "ndjson"),
    ("cases", "application/x-ndjson", "ndjson"), ("cases.data", "application/octet-stream", "csv"),
])
def test_a_multipart_part_is_json_by_its_type_or_name_else_csv(client, admin_headers, filename, part_type, fmt):
    response = multipart(client, admin_headers, JSON, filename=filename, part_type=part_type)
    assert response.status_code == 202 and response.json["params"]["format"] == fmt


@pytest.mark.parametrize("content_type, fmt", [
    ("text/csv", "csv"), ("text/csv; charset=UTF-8", "csv"), ("application/json", "json"),
    ("application/x-ndjson", "ndjson"),
])
def test_raw_bodies_are_accepted_by_media_type(client, admin_headers, uow, content_type, fmt):
    body = CSV if fmt == "csv" else JSON
    response = post(client, admin_headers, body, content_type)
    assert response.status_code == 202
    assert response.json["params"] == {"filename": None, "format": fmt, "size_bytes": len(body)}
    assert stored_upload(uow, response.json["id"])[3] == body


def test_a_large_body_is_stored_in_chunks_and_read_back_whole(client, admin_headers, uow, settings):
    data = CSV + b"".join(b"C%07d,HDFC,Asha,1,1,1,Low,R\n" % n for n in range(120_000))  # about 3 chunks
    response = post(client, admin_headers, data)
    assert response.status_code == 202
    assert count(uow, "upload_chunks") == -(-len(data) // settings.upload_chunk_bytes)
    assert stored_upload(uow, response.json["id"])[3] == data


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/octet-stream",
                                          "text/csv; charset=latin-1"])
def test_other_media_types_are_415(client, admin_headers, uow, content_type):
    response = post(client, admin_headers, CSV, content_type)
    assert (response.status_code, response.content_type) == (415, PROBLEM)
    assert count(uow, "jobs") == 0


def test_a_body_without_a_media_type_is_415(client, admin_headers):
    response = client.post("/api/cases/upload", data=CSV, headers=admin_headers)
    assert (response.status_code, response.content_type) == (415, PROBLEM)


@pytest.mark.parametrize("send", [
    lambda c, h: post(c, h, b""),
    lambda c, h: multipart(c, h, b""),
    lambda c, h: c.post("/api/cases/upload", data={"other": "x"}, content_type="multipart/form-data", headers=h),
])
def test_no_file_or_an_empty_one_is_400_and_stores_nothing(client, admin_headers, uow, send):
    response = send(client, admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM)
    assert "file" in response.json["errors"]
    assert (count(uow, "jobs"), count(uow, "uploads")) == (0, 0)


def test_a_body_over_max_upload_bytes_is_413(settings, make_user, uow):
    from web import create_app

    small = create_app(replace(settings, max_upload_bytes=len(CSV) - 1)).test_client()
    headers = login(small, make_user("admin").email)
    for response in (post(small, headers), multipart(small, headers)):
        assert (response.status_code, response.content_type) == (413, PROBLEM)
    assert post(small, headers, CSV[: len(CSV) - 1]).status_code == 202
    assert count(uow, "jobs") == 1


def test_the_same_idempotency_key_returns_the_first_job_and_stores_nothing_new(client, admin_headers, make_user, uow):
    first = post(client, admin_headers, **{"Idempotency-Key": "march-2026"})
    again = multipart(client, admin_headers, JSON, "other.json", **{"Idempotency-Key": "march-2026"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json["id"] == first.json["id"] and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert (count(uow, "jobs"), count(uow, "uploads")) == (1, 1)
    other_admin = login(client, make_user("admin").email)
    assert post(client, other_admin, **{"Idempotency-Key": "march-2026"}).json["id"] != first.json["id"]
    assert post(client, admin_headers, **{"Idempotency-Key": "april-2026"}).json["id"] != first.json["id"]


def test_a_malformed_idempotency_key_is_400(client, admin_headers):
    response = post(client, admin_headers, **{"Idempotency-Key": "has spaces"})
    assert (response.status_code, response.content_type) == (400, PROBLEM)
    assert "Idempotency-Key" in response.json["errors"]


def test_an_agent_is_forbidden_and_nothing_is_stored(client, agent_headers, uow):
    _, headers = agent_headers("field_agent")
    response = post(client, headers)
    assert (response.status_code, response.content_type) == (403, PROBLEM)
    assert count(uow, "uploads") == 0


def test_without_a_token_it_is_401(client):
    response = post(client, {})
    assert (response.status_code, response.content_type) == (401, PROBLEM)


def test_the_openapi_document_describes_the_upload(client):
    operation = client.get("/openapi.json").json["paths"]["/api/cases/upload"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "text/csv", "application/json",
                                                        "application/x-ndjson"}
    assert {"202", "400", "401", "403", "413", "415"} <= set(operation["responses"])
    assert "Location" in operation["responses"]["202"]["headers"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])

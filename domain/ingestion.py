"""Ingestion: an uploaded file of cases, from the HTTP body to `cases_processed`.

`start_upload` (web) stores the file as chunks with its job in one transaction and enqueues the
job; `ingest_upload` (worker) streams it back, checks every row with `case_rules`, COPYs the rows
into a staging table and lets PostgreSQL do the rest in set-based statements, all in the job's
transaction — so a retry after a crash starts from scratch with nothing half-written.
"""
from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from operator import itemgetter
from typing import BinaryIO

from domain import case_rules, readers
from domain.case_rules import check_row
from domain.cases import OPEN_STATUSES
from domain.errors import Conflict, InvalidInput, JobFailed
from domain.events import CasesChanged
from domain.job_runner import Progress
from domain.jobs import Enqueue, Job, JobType, new_job, submit
from domain.read_ahead import ReadAhead
from domain.readers import json_text
from domain.routing import route
from domain.stores import IngestStore, Stager
from domain.unit_of_work import UnitOfWork

ERRORS_SAMPLE_SIZE = 100
ERRORS_CSV_HEADER = ("line", "case_id", "field", "message")
ERRORS_FIELD_ORDER = [case_rules.ROW, *case_rules.ALL_COLUMNS]
RELEASE_REASON = "DPD now routes the case to {team}"
_BATCH_ROWS = 10_000  # rows staged per round trip; progress (a cancel checkpoint) is reported per batch
_REQUIRED = len(case_rules.COLUMNS)  # a row's values: the required columns, then the optional ones


def start_upload(uow: UnitOfWork, *, body: BinaryIO, fmt: str, filename: str | None, created_by: int, enqueue: Enqueue,
                 chunk_bytes: int, idempotency_key: str | None = None,
                 job_type: JobType = JobType.INGEST) -> tuple[Job, bool]:
    """Store the file and its job (ingest, or another file job) together, then enqueue; returns (job, created).

    With an Idempotency-Key its creator already used, the first job comes back (created False)
    and the body is not even read; a key its creator used for another kind of job is a conflict
    (answering that job would drop this file unnoticed).
    """
    if idempotency_key is not None:
        earlier = uow.jobs.get_by_idempotency_key(created_by, idempotency_key)
        if earlier is not None:
            return _same_kind(earlier, job_type, idempotency_key), False
    job = new_job(job_type, {"filename": filename, "format": fmt, "size_bytes": 0}, created_by)
    stored = uow.uploads.add_job(job, idempotency_key)
    if stored is not job:
        return _same_kind(stored, job_type, idempotency_key), False  # a concurrent request committed first
    upload_id = uow.uploads.add(job.id, filename, fmt)
    size = count = 0
    for count, chunk in enumerate(_chunks(body, chunk_bytes), start=1):
        uow.uploads.append(upload_id, count - 1, chunk)
        size += len(chunk)
    if size == 0:
        raise InvalidInput("the uploaded file is empty", {"file": ["is empty"]})
    uow.uploads.finish(upload_id, size_bytes=size, chunks=count)
    job.params["size_bytes"] = size
    if job_type is JobType.INGEST:  # its progress counts the file's bytes read: the total is known now
        job.progress_total = size
    uow.jobs.set_params(job.id, job.params, progress_total=job.progress_total)
    return submit(uow, job, enqueue), True



def _same_kind(earlier: Job, job_type: JobType, idempotency_key: str) -> Job:
    if earlier.type is not job_type:
        raise Conflict(f"Idempotency-Key {idempotency_key} was already used for a {earlier.type.value} job",
                       {"Idempotency-Key": [f"already used for a {earlier.type.value} job; use a new key"]})
    return earlier

def _chunks(body: BinaryIO, size: int) -> Iterator[bytes]:
    """The body in pieces of exactly `size` bytes (the last may be shorter)."""
    while True:
        parts, have = [], 0
        while have < size and (part := body.read(size - have)):
            parts.append(part)
            have += len(part)
        if parts:
            yield b"".join(parts)
        if have < size:
            return


def ingest_upload(job: Job, uow: UnitOfWork, progress: Progress) -> dict:
    """The worker's half: check and stage every row, keep it raw, then insert or refresh cases."""
    upload = uow.uploads.for_job(job.id)
    if upload is None:
        raise JobFailed("Upload missing", f"job {job.id} has no stored upload")
    bands = uow.assignment.bands()
    route_days = lru_cache(maxsize=4096)(lambda days: route(days, bands).value)
    store = uow.ingest
    try:
        with uow.uploads.open(upload.id) as stored:
            stream = readers.Counted(stored)
            records = readers.open_records(upload.media_type, stream)
            if records.columns is not None:
                pick = _csv_columns(records.columns)
                rows = partial(_csv_rows, records, pick, len(records.columns), route_days)
            else:
                rows = partial(_json_rows, records.rows, route_days)
            progress.set_total(upload.size_bytes)
            total = _stage(store, job.id, rows, progress, stream)
    except (readers.UnreadableFile, UnicodeDecodeError) as exc:
        raise unreadable_failure(uow, upload.id, exc) from None
    store.reject_duplicates(job.id, case_rules.DUPLICATE_MESSAGE)
    store.keep_errors(job.id)
    progress.advance(upload.size_bytes, force=True)  # every byte read; also a cancel checkpoint before cases change
    store.serialize_writers()
    # an assignment run updates the same open cases in its own order: take turns, never deadlock
    uow.assignment.serialize_runs()
    store.match_cases()
    released = 0
    if store.lock_moving_cases():
        released = store.release_moving_cases(job.id, open_statuses=[s.value for s in OPEN_STATUSES],
                                              reason=RELEASE_REASON)
    store.refresh_cases(job.id)
    inserted = store.insert_cases(job.id)
    rejected = store.rejected_count()
    if total > rejected or released:
        uow.record(CasesChanged("ingest"))
    return {
        "rows_total": total,
        "rows_inserted": inserted,
        "rows_updated": total - rejected - inserted,  # unchanged rows count: the contract's "refreshed"
        "rows_rejected": rejected,
        "released_for_reassignment": released,
        "errors_sample": store.errors_sample(job.id, ERRORS_SAMPLE_SIZE, ERRORS_FIELD_ORDER),
    }


def _stage(store: IngestStore, job_id: uuid.UUID, rows: Callable, progress: Progress,
           stream: readers.Counted) -> int:
    """Stage the rows in batches, the next batch read while the last is stored; returns the count.

    Progress is the file's bytes read (its total, the upload's size, is known from the start).
    """
    done = 0
    with store.staging(job_id) as stager, ReadAhead(readers.batched(rows(stager), _BATCH_ROWS)) as ahead:
        for batch in ahead:
            stager.add(batch)
            done += len(batch)
            progress.advance(stream.count)
    progress.advance(stream.count, force=True)
    return done


def _csv_columns(header: list[str]) -> Callable:
    """A picker of the case columns of a CSV file's rows; a bad header fails the job."""
    columns = case_rules.map_columns(header)
    if columns.missing:
        raise JobFailed("Missing columns", f"the header has no column {', '.join(columns.missing)} "
                                           f"(expected {', '.join(case_rules.COLUMNS)}, in any order and case; "
                                           f"optionally {', '.join(case_rules.OPTIONAL_COLUMNS)})")
    if columns.duplicated:
        raise JobFailed("Ambiguous columns", f"the header names {', '.join(columns.duplicated)} more than once")
    return _picker(columns.positions)


def _picker(positions: tuple) -> Callable:
    """A row's case values: the required columns, then the optional ones when the header has any
    (an absent one is None: not sent, the stored value stays)."""
    required, optional = positions[:_REQUIRED], positions[_REQUIRED:]
    if all(p is None for p in optional):
        return itemgetter(*required)  # the common file: no optional column, nothing more to pick
    if all(p is not None for p in optional):
        return itemgetter(*positions)
    return lambda row: [None if p is None else row[p] for p in positions]


def _csv_rows(records: readers.Records, pick, width: int, route_days, stage: Stager) -> Iterator[tuple]:
    text = records.last_text
    for line, row in records.rows:
        if len(row) < width:
            row = row + [None] * (width - len(row))
        if len(row) > width:
            checked = check_row(pick(row))
            problems = [*checked.problems, case_rules.field_count(len(row), width)]
            yield stage.rejected(line, checked.case_id, problems, text())
        elif (checked := check_row(pick(row))).case is not None:
            yield stage.accepted(line, checked.case, route_days(checked.case.days_past_due), text())
        else:
            yield stage.rejected(line, checked.case_id, checked.problems, text())


def _json_rows(rows, route_days, stage: Stager) -> Iterator[tuple]:
    keys_of = lru_cache(maxsize=256)(_json_keys)  # objects of one file mostly share their keys
    for line, value in rows:
        if isinstance(value, readers.Unreadable):
            yield stage.rejected(line, None, case_rules.unreadable(value.reason).problems, value.text)
        elif not isinstance(value, dict):
            yield stage.rejected(line, None, case_rules.not_an_object().problems, json_text(value))
        else:
            keys, duplicated = keys_of(tuple(value))
            checked = check_row(_json_values(value, keys))
            if duplicated:
                yield stage.rejected(line, checked.case_id, [*checked.problems, duplicated], json_text(value))
            elif checked.case is not None:
                yield stage.accepted(line, checked.case, route_days(checked.case.days_past_due), json_text(value))
            else:
                yield stage.rejected(line, checked.case_id, checked.problems, json_text(value))




def _json_keys(names: tuple) -> tuple[tuple, case_rules.Problem | None]:
    """For each column, the key of an object holding it (the optional columns only when it holds
    one of them); and a problem if a column is named twice."""
    columns = case_rules.map_columns(names)
    keys = tuple(None if p is None else names[p] for p in columns.positions)
    if all(k is None for k in keys[_REQUIRED:]):
        keys = keys[:_REQUIRED]
    return keys, case_rules.duplicated_keys(columns.duplicated) if columns.duplicated else None


def _json_values(value: dict, keys: tuple) -> list:
    """An object's case values; null in an optional column is sent empty (it clears the stored
    value, as in a JSON merge patch), while an absent key is not sent (None)."""
    values = [value.get(k) for k in keys]
    for position in range(_REQUIRED, len(keys)):
        if values[position] is None and keys[position] is not None:
            values[position] = case_rules.CLEARED
    return values


def unreadable_failure(uow: UnitOfWork, upload_id: int, exc: Exception) -> JobFailed:
    """The failure to report for a file that cannot be read; bad UTF-8 is located exactly."""
    with uow.uploads.open(upload_id) as stream:
        bad = readers.locate_invalid_utf8(stream)
    if bad is not None:
        offset, line, byte = bad
        return JobFailed("File is not UTF-8", f"byte 0x{byte:02X} on line {line} (byte offset {offset}) is not "
                                              "valid UTF-8; save the file as UTF-8 and upload it again")
    return JobFailed("Unreadable file", str(exc))


def stream_error_csv(uow_factory: Callable[[], UnitOfWork], job_id: uuid.UUID, batch: int = 1000,
                     field_order: list[str] = ERRORS_FIELD_ORDER) -> Iterator[str]:
    """Every row error of a file job as CSV text (`line,case_id,field,message`), in pieces; a
    line's problems in `field_order` (the job's columns)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERRORS_CSV_HEADER)
    with uow_factory() as uow:
        for count, error in enumerate(uow.ingest.iter_errors(job_id, field_order), start=1):
            writer.writerow(error)
            if not count % batch:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()

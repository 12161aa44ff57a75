"""Starting an upload against the in-memory unit of work: the file in chunks, its job, the Idempotency-Key."""
from __future__ import annotations

import io

import pytest

from domain.errors import InvalidInput
from domain.ingestion import start_upload
from domain.job_runner import reconcile
from domain.jobs import Job, JobState, JobType

from .fakes import FakeUnitOfWork

USER = 5


class TrickleBody(io.RawIOBase):
    """A request body that hands out at most `step` bytes a read, as a socket does."""

    def __init__(self, data: bytes, step: int):
        self._data, self._step = data, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        part, self._data = self._data[:size], self._data[size:]
        return part


class Unread(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


def upload(uow: FakeUnitOfWork, body, *, key: str | None = None, user: int = USER, enqueue=None):
    sent: list[Job] = []
    job, created = start_upload(uow, body=body, fmt="csv", filename="cases.csv", created_by=user,
                                enqueue=sent.append if enqueue is None else enqueue, chunk_bytes=4,
                                idempotency_key=key)
    return job, created, sent


def test_the_file_is_stored_in_chunks_of_the_chunk_size_in_order_and_its_size_counted():
    uow = FakeUnitOfWork()
    job, created, _ = upload(uow, TrickleBody(b"case_id,x\nA1,2\n", step=3))
    stored = uow.uploads.for_job(job.id)
    assert uow.uploads.stored_chunks(stored.id) == [b"case", b"_id,", b"x\nA1", b",2\n"]
    assert (stored.filename, stored.media_type, stored.size_bytes, stored.chunks) == ("cases.csv", "csv", 15, 4)
    with uow.uploads.open(stored.id) as stream:
        assert stream.read() == b"case_id,x\nA1,2\n"
    assert created and (job.type, job.state, job.created_by) == (JobType.INGEST, JobState.QUEUED, USER)
    assert job.params == {"filename": "cases.csv", "format": "csv", "size_bytes": 15}


def test_the_job_is_enqueued_only_after_the_upload_and_its_job_commit():
    uow = FakeUnitOfWork()
    seen = []

    def enqueue(job: Job) -> None:
        seen.append((uow.commits, uow.jobs.get(job.id).params["size_bytes"], uow.uploads.for_job(job.id).size_bytes))

    job, _, _ = upload(uow, io.BytesIO(b"0123456789"), enqueue=enqueue)
    assert seen == [(1, 10, 10)]
    assert uow.jobs.enqueued_at(job.id) == uow.now and uow.commits == 1


def test_a_reconciler_round_between_the_commit_and_the_enqueue_does_not_send_the_job_twice():
    uow = FakeUnitOfWork()
    resent: list[Job] = []

    def enqueue(job: Job) -> None:  # the reconciler runs in the instant the web is handing the job over
        reconcile(uow, resent.append, stale_seconds=60, max_attempts=3)

    upload(uow, io.BytesIO(b"0123456789"), enqueue=enqueue)
    assert resent == []


def test_a_broker_failure_leaves_the_stored_job_queued_for_the_reconciler():
    uow = FakeUnitOfWork()

    def broker_down(job: Job) -> None:
        raise ConnectionError("broker down")

    job, created, _ = upload(uow, io.BytesIO(b"0123"), enqueue=broker_down)
    assert created and uow.jobs.get(job.id).state is JobState.QUEUED and uow.jobs.enqueued_at(job.id) is None


def test_a_publish_that_raises_after_its_message_landed_leaves_the_worked_job_as_it_is():
    uow = FakeUnitOfWork()

    def landed_then_raised(job: Job) -> None:  # a worker ran the job before the publish timed out
        uow.jobs.finish(job.id, JobState.SUCCEEDED, result={})
        raise ConnectionError("timed out waiting for the broker's reply")

    job, _, _ = upload(uow, io.BytesIO(b"0123"), enqueue=landed_then_raised)
    assert uow.jobs.get(job.id).state is JobState.SUCCEEDED and uow.jobs.enqueued_at(job.id) == uow.now


def test_an_empty_file_is_refused_and_nothing_is_stored():
    uow = FakeUnitOfWork()
    with uow, pytest.raises(InvalidInput):
        upload(uow, io.BytesIO(b""))
    assert uow.jobs.rows == {} and uow.commits == 0


def test_the_same_idempotency_key_returns_the_earlier_job_without_reading_or_storing_again():
    uow = FakeUnitOfWork()
    first, created, sent = upload(uow, io.BytesIO(b"0123456789"), key="k-1")
    commits = uow.commits
    again, created_again, sent_again = upload(uow, Unread(), key="k-1")
    assert (created, created_again) == (True, False) and again == first
    assert list(uow.jobs.rows) == [first.id] and len(uow.tables.uploads) == 1
    assert sent_again == [] and uow.commits == commits


def test_the_same_key_from_another_user_starts_a_job_of_its_own():
    uow = FakeUnitOfWork()
    first, _, _ = upload(uow, io.BytesIO(b"0123"), key="k-1")
    other, created, _ = upload(uow, io.BytesIO(b"4567"), key="k-1", user=USER + 1)
    assert created and other.id != first.id and len(uow.jobs.rows) == 2


def test_a_concurrent_request_with_the_same_key_that_stored_first_wins(monkeypatch):
    uow = FakeUnitOfWork()
    first, _, _ = upload(uow, io.BytesIO(b"0123"), key="k-1")
    monkeypatch.setattr(uow.jobs, "get_by_idempotency_key", lambda created_by, key: None)  # not committed yet
    again, created, sent = upload(uow, Unread(), key="k-1")
    assert (again, created, sent) == (first, False, [])
    assert list(uow.jobs.rows) == [first.id] and len(uow.tables.uploads) == 1

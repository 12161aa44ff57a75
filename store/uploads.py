"""Uploaded files, stored in PostgreSQL as numbered chunks and read back as a stream.

Web and worker share no filesystem, so the file lives in `upload_chunks`; neither side ever
holds more than a chunk of it in memory.
"""
from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.jobs import Job
from store.jobs import JobStore
from store.tables import upload_chunks, uploads

_IDEMPOTENCY_INDEX = "jobs_idempotency_key"


@dataclass(frozen=True)
class Upload:
    id: int
    job_id: uuid.UUID
    filename: str | None
    media_type: str  # csv | json | ndjson
    size_bytes: int
    chunks: int


class UploadStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add_job(self, job: Job, idempotency_key: str | None) -> Job:
        """Store the job; with a key already used by its creator, the job stored first instead.

        Two requests racing with one key both get past the caller's lookup; the unique index
        makes the second wait for the first and fail here, and it answers with the first job.
        """
        jobs = JobStore(self.conn)
        try:
            with self.conn.begin_nested():
                jobs.add(job, idempotency_key)
        except IntegrityError as exc:
            if idempotency_key is None or _IDEMPOTENCY_INDEX not in str(exc.orig):
                raise
            return jobs.get_by_idempotency_key(job.created_by, idempotency_key)
        return job

    def add(self, job_id: uuid.UUID, filename: str | None, media_type: str) -> int:
        """A new, empty upload for the job; returns its id."""
        return self.conn.execute(
            insert(uploads).values(job_id=job_id, filename=filename, media_type=media_type).returning(uploads.c.id)
        ).scalar_one()

    def append(self, upload_id: int, seq: int, data: bytes) -> None:
        """Store the next chunk of the upload."""
        self.conn.execute(insert(upload_chunks).values(upload_id=upload_id, seq=seq, data=data))

    def finish(self, upload_id: int, *, size_bytes: int, chunks: int) -> None:
        """Record the size of a completely stored upload."""
        self.conn.execute(update(uploads).where(uploads.c.id == upload_id).values(size_bytes=size_bytes, chunks=chunks))

    def for_job(self, job_id: uuid.UUID) -> Upload | None:
        row = self.conn.execute(select(uploads).where(uploads.c.job_id == job_id)).first()
        if row is None:
            return None
        return Upload(row.id, row.job_id, row.filename, row.media_type, row.size_bytes, row.chunks)

    @contextmanager
    def open(self, upload_id: int, buffer_bytes: int = 256 * 1024) -> Iterator[io.BufferedReader]:
        """The upload as a binary stream, fetched a chunk at a time.

        It reads on a connection of its own: the unit of work's connection stays free for a
        COPY that runs while the stream is consumed.
        """
        with self.conn.engine.connect() as reader:
            raw = _ChunkReader(reader, upload_id)
            with io.BufferedReader(raw, buffer_size=buffer_bytes) as stream:
                yield stream
            reader.rollback()


class _ChunkReader(io.RawIOBase):
    """Chunk k of an upload is fetched when the reader gets to it (read-only, in order)."""

    def __init__(self, conn: Connection, upload_id: int):
        self._conn = conn
        self._upload_id = upload_id
        self._next_seq = 0
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self._chunk and not self._fetch():
            return 0
        size = min(len(buffer), len(self._chunk))
        buffer[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size

    def _fetch(self) -> bool:
        row = self._conn.execute(
            select(upload_chunks.c.seq, upload_chunks.c.data)
            .where(upload_chunks.c.upload_id == self._upload_id, upload_chunks.c.seq >= self._next_seq)
            .order_by(upload_chunks.c.seq)
            .limit(1)
        ).first()
        if row is None:
            return False
        self._next_seq = row.seq + 1
        self._chunk = memoryview(row.data)
        return True

"""Jobs table access: create, read, list (keyset), state transitions, reconciliation queries."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, and_, func, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.jobs import Job, JobState, JobType
from store import locks
from store.tables import UNFINISHED, jobs


def _to_job(row) -> Job:
    return Job(
        id=row.id,
        type=JobType(row.type),
        state=JobState(row.state),
        params=row.params or {},
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        result=row.result,
        error=row.error,
        created_by=row.created_by,
        attempts=row.attempts,
        cancel_requested=row.cancel_requested,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def job_lock_key(job_id: uuid.UUID) -> int:
    """The 32-bit key of the job's advisory lock (paired with locks.JOB_CLASS)."""
    return int.from_bytes(job_id.bytes[:4], "big", signed=True)


class JobStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, job: Job, idempotency_key: str | None = None) -> None:
        self.conn.execute(
            insert(jobs).values(
                id=job.id,
                type=job.type.value,
                state=job.state.value,
                params=job.params,
                created_by=job.created_by,
                idempotency_key=idempotency_key,
            )
        )

    def set_params(self, job_id: uuid.UUID, params: dict, *, progress_total: int | None = None) -> None:
        """Replace the job's params (e.g. an upload's size, known once it is stored), and its
        progress total when given."""
        values = {"params": params} if progress_total is None else {"params": params, "progress_total": progress_total}
        self.conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def add_once(self, job: Job, idempotency_key: str) -> bool:
        """Store the job unless one with the same creator and key exists; True when stored."""
        return self.conn.execute(
            pg_insert(jobs).values(id=job.id, type=job.type.value, state=job.state.value, params=job.params,
                                   created_by=job.created_by, idempotency_key=idempotency_key)
            .on_conflict_do_nothing().returning(jobs.c.id)
        ).first() is not None

    def get(self, job_id: uuid.UUID, *, for_update: bool = False) -> Job | None:
        query = select(jobs).where(jobs.c.id == job_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _to_job(row) if row else None

    def get_by_idempotency_key(self, created_by: int, key: str) -> Job | None:
        row = self.conn.execute(
            select(jobs).where(jobs.c.created_by == created_by, jobs.c.idempotency_key == key)
        ).first()
        return _to_job(row) if row else None

    def list(
        self,
        *,
        created_by: int | None,
        job_type: str | None,
        state: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Job]:
        """Newest first, keyset-paginated on (created_at, id)."""
        query = select(jobs)
        if created_by is not None:
            query = query.where(jobs.c.created_by == created_by)
        if job_type:
            query = query.where(jobs.c.type == job_type)
        if state:
            query = query.where(jobs.c.state == state)
        if after:
            created_at, job_id = after
            query = query.where(
                or_(
                    jobs.c.created_at < created_at,
                    and_(jobs.c.created_at == created_at, jobs.c.id < job_id),
                )
            )
        query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        return [_to_job(r) for r in self.conn.execute(query)]

    def mark_enqueued(self, job_id: uuid.UUID) -> None:
        # the clock, not now(): an upload's transaction may have begun long before this commit
        self.conn.execute(update(jobs).where(jobs.c.id == job_id).values(enqueued_at=func.clock_timestamp()))

    def unmark_enqueued(self, job_id: uuid.UUID) -> None:
        # only while queued: a publish that raised may have landed, and a worker may run the job already
        self.conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED.value)
                          .values(enqueued_at=None))

    def request_cancel(self, job_id: uuid.UUID) -> None:
        """Queued: cancelled at once. Running: flagged, the worker stops at its next checkpoint."""
        self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state == JobState.QUEUED.value)
            .values(state=JobState.CANCELLED.value, cancel_requested=True, finished_at=func.now())
        )
        self.conn.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value)
            .values(cancel_requested=True)
        )

    # --- execution (used by the job runner) -------------------------------------------------

    def try_lock(self, job_id: uuid.UUID) -> bool:
        """Take the job's session advisory lock; False when another worker holds it."""
        return bool(
            self.conn.execute(
                text("SELECT pg_try_advisory_lock(:ns, :key)"),
                {"ns": locks.JOB_CLASS, "key": job_lock_key(job_id)},
            ).scalar()
        )

    def unlock(self, job_id: uuid.UUID) -> None:
        self.conn.execute(
            text("SELECT pg_advisory_unlock(:ns, :key)"),
            {"ns": locks.JOB_CLASS, "key": job_lock_key(job_id)},
        )

    def is_locked(self, job_id: uuid.UUID) -> bool:
        """True while some live session executes the job (its lock dies with its connection)."""
        return bool(
            self.conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :ns AND objid = (:key)::oid AND objsubid = 2)"
                ),
                {"ns": locks.JOB_CLASS, "key": job_lock_key(job_id) & 0xFFFFFFFF},
            ).scalar()
        )

    def claim(self, job_id: uuid.UUID) -> Job | None:
        """Move a queued (or orphaned running) job to running and count the attempt."""
        row = self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.state.in_(UNFINISHED))
            .values(
                state=JobState.RUNNING.value,
                attempts=jobs.c.attempts + 1,
                started_at=func.coalesce(jobs.c.started_at, func.now()),
                heartbeat_at=func.now(),
                error=None,
            )
            .returning(jobs)
        ).first()
        return _to_job(row) if row else None

    def report_progress(self, job_id: uuid.UUID, done: int, total: int | None) -> bool:
        """Store progress and a heartbeat; returns True when a cancel was requested."""
        # Their commit need not wait for the disk: a report lost in a crash is followed by the next
        # one, and a synchronous commit would wait behind the WAL the job itself is writing.
        self.conn.execute(text("SET LOCAL synchronous_commit = off"))
        values = {"progress_done": done, "heartbeat_at": func.now()}
        if total is not None:
            values["progress_total"] = total
        return bool(
            self.conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(**values).returning(jobs.c.cancel_requested)
            ).scalar()
        )

    def finish(self, job_id: uuid.UUID, state: JobState, *, result=None, error=None) -> None:
        # clock_timestamp, not now(): a job succeeds in its work transaction, whose now() is
        # when the work began
        values = {"state": state.value, "finished_at": func.clock_timestamp(), "result": result, "error": error}
        if state is JobState.SUCCEEDED:
            values["progress_done"] = func.coalesce(jobs.c.progress_total, jobs.c.progress_done)
        self.conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def requeue(self, job_id: uuid.UUID) -> None:
        self.conn.execute(
            update(jobs).where(jobs.c.id == job_id).values(state=JobState.QUEUED.value, enqueued_at=None)
        )

    def unfinished(self) -> list[tuple[Job, datetime | None, datetime | None]]:
        """Queued and running jobs with their enqueue time and last heartbeat."""
        rows = self.conn.execute(
            select(jobs).where(jobs.c.state.in_(UNFINISHED)).with_for_update(skip_locked=True)
        )
        return [(_to_job(r), r.enqueued_at, r.heartbeat_at) for r in rows]

    def now(self) -> datetime:
        return self.conn.execute(select(func.now())).scalar_one()

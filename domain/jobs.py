"""Jobs: the source of truth for background work (state, progress, result, error)."""
from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from domain.errors import Conflict, NotFound
from domain.viewer import Viewer

if TYPE_CHECKING:  # domain.stores speaks of jobs
    from domain.unit_of_work import UnitOfWork


class JobType(str, enum.Enum):
    INGEST = "ingest"
    ASSIGN = "assign"
    ANALYTICS = "analytics"
    PAYMENTS = "payments"
    PROMISES = "promises"
    CONTACTS = "contacts"


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass
class Job:
    id: uuid.UUID
    type: JobType
    state: JobState
    params: dict = field(default_factory=dict)
    progress_done: int = 0
    progress_total: int | None = None
    result: dict | None = None
    error: dict | None = None
    created_by: int | None = None
    attempts: int = 0
    cancel_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


Enqueue = Callable[[Job], None]


def new_job(job_type: JobType, params: dict, created_by: int | None) -> Job:
    """A fresh queued job (not yet stored)."""
    return Job(id=uuid.uuid4(), type=job_type, state=JobState.QUEUED, params=params, created_by=created_by)


def get_job(uow: UnitOfWork, job_id: uuid.UUID, viewer: Viewer, *, for_update: bool = False) -> Job:
    """The job, if the viewer may see it; NotFound otherwise (existence is not leaked)."""
    job = uow.jobs.get(job_id, for_update=for_update)
    if job is None or not (viewer.is_admin or job.created_by == viewer.user_id):
        raise NotFound(f"job {job_id} not found")
    return job


def list_jobs(uow: UnitOfWork, viewer: Viewer, *, job_type: str | None, state: str | None,
              after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Job]:
    """Jobs newest first (keyset after `after`); non-admins see only their own."""
    return uow.jobs.list(created_by=None if viewer.is_admin else viewer.user_id, job_type=job_type,
                         state=state, after=after, limit=limit)


def cancel_job(uow: UnitOfWork, job_id: uuid.UUID, viewer: Viewer) -> Job:
    """Cancel a queued job now; ask a running one to stop at its next checkpoint."""
    job = get_job(uow, job_id, viewer, for_update=True)  # a job finishing meanwhile gets its 409
    if job.state.finished:
        raise Conflict(f"job {job_id} already {job.state.value}")
    uow.jobs.request_cancel(job_id)
    uow.commit()
    return uow.jobs.get(job_id)


def submit(uow: UnitOfWork, job: Job, enqueue: Enqueue) -> Job:
    """Commit the job (and whatever the unit of work holds with it), then hand it to the queue.

    The enqueue happens only after the commit, so a worker never sees a job that is not there.
    The job is marked enqueued in that same commit: were it not, the reconciler could take it for
    one the broker never got, in the instant between the commit and the enqueue, and send it twice.
    A failed enqueue marks it never enqueued again, if it is still queued (the message may have
    landed all the same, and a worker started it); the reconciler's next round sends it.
    """
    uow.jobs.mark_enqueued(job.id)
    uow.commit()
    try:
        enqueue(job)
    except Exception:  # noqa: BLE001 - the broker may be down; the reconciler covers it
        uow.jobs.unmark_enqueued(job.id)
        uow.commit()
    return uow.jobs.get(job.id)  # as stored: created_at and the rest filled in

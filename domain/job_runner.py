"""Executing a job: claim it once, report progress, commit its result with its data.

Delivery is at least once (acks_late; the reconciler re-enqueues); this module makes it
effectively once: a job is executed under its advisory lock, its effects and its `succeeded`
state commit in one transaction, and a finished job is never executed again.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from domain.errors import JobCancelled, JobFailed
from domain.jobs import Enqueue, Job, JobState
from domain.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

UowFactory = Callable[[], UnitOfWork]


class Handler(Protocol):
    def __call__(self, job: Job, uow: UnitOfWork, progress: Progress) -> dict: ...


class Progress:
    """Progress and heartbeat, written on its own connection so clients see them at once.

    `advance` is a checkpoint: it raises JobCancelled when a cancel was requested.
    """

    def __init__(self, control: UnitOfWork, job_id: uuid.UUID, every_seconds: float = 0.5):
        self._control = control
        self._job_id = job_id
        self._every = every_seconds
        self._last = 0.0
        self.total: int | None = None
        self.done = 0

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._write()

    def advance(self, done: int, *, force: bool = False) -> None:
        self.done = done
        if force or time.monotonic() - self._last >= self._every:
            self._write()

    def _write(self) -> None:
        self._last = time.monotonic()
        cancel = self._control.jobs.report_progress(self._job_id, self.done, self.total)
        self._control.commit()
        if cancel:
            raise JobCancelled()


def run_job(job_id: uuid.UUID, uow_factory: UowFactory, handler: Handler, *, max_attempts: int) -> str:
    """Run the job once if it still needs running; returns what happened, for the logs."""
    with uow_factory() as work, uow_factory() as control:
        if not work.jobs.try_lock(job_id):
            return "skipped: another worker is running it"
        work.commit()  # the session lock outlives transactions; start the work clean
        try:
            return _run_locked(job_id, work, control, handler, max_attempts)
        finally:
            work.rollback()
            work.jobs.unlock(job_id)
            work.commit()


def _run_locked(job_id: uuid.UUID, work: UnitOfWork, control: UnitOfWork, handler: Handler,
                max_attempts: int) -> str:
    current = control.jobs.get(job_id)
    if current is None or current.state.finished:
        return "skipped: already finished"
    if current.cancel_requested:
        control.jobs.finish(job_id, JobState.CANCELLED)
        control.commit()
        return "cancelled before start"
    if current.attempts >= max_attempts:
        _fail(control, job_id, "Gave up",
              f"the job was interrupted {current.attempts} times (worker lost); not retried again")
        return "failed: attempts exhausted"
    job = control.jobs.claim(job_id)
    control.commit()
    if job is None:
        return "skipped: cancelled or finished meanwhile"
    log.info("job started", extra={"job_id": str(job_id), "job_type": job.type.value, "attempt": job.attempts})
    progress = Progress(control, job_id)
    try:
        result = handler(job, work, progress)
        work.jobs.finish(job_id, JobState.SUCCEEDED, result=result)
        work.commit()
    except JobCancelled:
        work.rollback()
        control.jobs.finish(job_id, JobState.CANCELLED)
        control.commit()
        return "cancelled"
    except JobFailed as failure:
        work.rollback()
        _fail(control, job_id, failure.title, failure.detail)
        return "failed"
    log.info("job succeeded", extra={"job_id": str(job_id), "job_type": job.type.value})
    return "succeeded"


def _fail(control: UnitOfWork, job_id: uuid.UUID, title: str, detail: str) -> None:
    control.rollback()
    control.jobs.finish(job_id, JobState.FAILED, error={"title": title, "detail": detail})
    control.commit()
    log.warning("job failed", extra={"job_id": str(job_id), "reason": title})


def fail_unexpectedly(job_id: uuid.UUID, uow_factory: UowFactory, exc: BaseException) -> None:
    """Record a crash that exhausted its retries; the client sees the kind of error, no trace."""
    fail(job_id, uow_factory, "Internal error",
         f"processing failed ({type(exc).__name__}); the job was retried and gave up")


def fail(job_id: uuid.UUID, uow_factory: UowFactory, title: str, detail: str) -> None:
    """End an unfinished job as failed with this reason (its work was already rolled back)."""
    with uow_factory() as control:
        job = control.jobs.get(job_id)
        if job is None or job.state.finished:
            return
        _fail(control, job_id, title, detail)


def reconcile(uow: UnitOfWork, enqueue: Enqueue, *, stale_seconds: int, max_attempts: int) -> dict:
    """Re-enqueue jobs whose message or worker was lost; fail those that keep dying."""
    now = uow.jobs.now()
    requeued = failed = 0
    for job, enqueued_at, heartbeat_at in uow.jobs.unfinished():
        if job.state is JobState.RUNNING:
            if uow.jobs.is_locked(job.id):
                continue  # alive: its worker's session holds the lock
            if heartbeat_at and (now - heartbeat_at).total_seconds() < 5:
                continue  # just claimed or just finished; look again next round
            if job.attempts >= max_attempts:
                uow.jobs.finish(job.id, JobState.FAILED, error={
                    "title": "Gave up",
                    "detail": f"the worker running this job was lost {job.attempts} times; not retried again",
                })
                failed += 1
                continue
            uow.jobs.requeue(job.id)
        elif enqueued_at is not None and (now - enqueued_at).total_seconds() < stale_seconds:
            continue  # recently handed to the broker; give the workers time
        uow.commit()
        try:
            enqueue(job)
        except Exception:  # noqa: BLE001 - broker down: try again next round
            log.warning("reconciler could not enqueue", extra={"job_id": str(job.id)})
            continue
        uow.jobs.mark_enqueued(job.id)
        requeued += 1
    uow.commit()
    return {"requeued": requeued, "failed": failed}

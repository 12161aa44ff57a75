"""Analytics tasks: compute a snapshot, beat's periodic refresh."""
from __future__ import annotations

from celery import shared_task

from domain import analytics
from worker.harness import execute, queue, uow_factory


@shared_task(name="analytics.refresh", bind=True)
def refresh(self, job_id: str) -> str:
    """Compute and store a summary snapshot; the job's result is the summary."""
    return execute(self, job_id, analytics.refresh_summary)


@shared_task(name="analytics.schedule", bind=True)
def schedule(self) -> str:
    """Beat: start a refresh, unless one is already queued or running."""
    with uow_factory()() as uow:
        return str(analytics.ensure_refresh(uow, queue(self), created_by=None).id)


"""Job housekeeping."""
from celery import shared_task

from dcoe import servers
from domain.job_runner import reconcile as reconcile_jobs
from worker.harness import queue, uow_factory


@shared_task(name="jobs.reconcile", bind=True)
def reconcile(self) -> dict:
    """Re-enqueue lost jobs and fail those whose workers keep dying."""
    settings = servers.settings()
    with uow_factory()() as uow:
        return reconcile_jobs(uow, queue(self), stale_seconds=settings.job_stale_seconds,
                              max_attempts=settings.job_max_attempts)

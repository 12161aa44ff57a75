"""Assignment tasks: run an assign job; beat's periodic start of one."""
import time

from celery import shared_task

from dcoe import servers
from domain.assignment import run_assignment, schedule_assignment
from worker.harness import execute, queue, uow_factory


@shared_task(name="assignment.run", bind=True)
def run(self, job_id: str) -> str:
    """Execute an assign job."""
    return execute(self, job_id, run_assignment)


@shared_task(name="assignment.schedule", bind=True)
def schedule(self, interval_seconds: int | None = None) -> str | None:
    """Start this interval's assign job; another beat firing in the same interval starts nothing."""
    interval = interval_seconds or servers.settings().assign_interval_seconds
    if interval <= 0:
        return None
    with uow_factory()() as uow:
        job = schedule_assignment(uow, queue(self), now=time.time(), interval_seconds=interval)
    return str(job.id) if job else None

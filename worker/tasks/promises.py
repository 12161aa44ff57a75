"""Promises tasks: run a promises job; beat's periodic start of one."""
import time
from functools import partial

from celery import shared_task

from dcoe import servers
from domain.promise_book import evaluate_promises, schedule_evaluation
from worker.harness import execute, queue, uow_factory


@shared_task(name="promises.evaluate", bind=True)
def evaluate(self, job_id: str) -> str:
    """Execute a promises job: close the open promises its as_of decides."""
    return execute(self, job_id, partial(evaluate_promises, terms=servers.settings().promise_terms))


@shared_task(name="promises.schedule", bind=True)
def schedule(self, interval_seconds: int | None = None) -> str | None:
    """Start this interval's promises job (as_of: today, UTC); another beat in the same interval starts nothing."""
    interval = interval_seconds or servers.settings().promise_interval_seconds
    if interval <= 0:
        return None
    with uow_factory()() as uow:
        job = schedule_evaluation(uow, queue(self), now=time.time(), interval_seconds=interval)
    return str(job.id) if job else None

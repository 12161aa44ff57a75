"""Handing jobs to Celery by task name: one routing table for the web, the worker and beat."""
from __future__ import annotations

from celery import Celery

from domain.jobs import Job, JobType

# Ingestion is heavy and long: it has its own queue so it never starves assignment and analytics;
# the bank's payments file is a file job of the same weight. The promises job is one statement.
TASK_FOR_JOB = {
    JobType.INGEST: ("ingest.run", "ingest"),
    JobType.ASSIGN: ("assignment.run", "default"),
    JobType.ANALYTICS: ("analytics.refresh", "default"),
    JobType.PAYMENTS: ("payments.run", "ingest"),
    JobType.PROMISES: ("promises.evaluate", "default"),
    JobType.CONTACTS: ("contacts.run", "ingest"),  # a dialer's log: a file job like the payments file
}

# Publishing must fail fast when the broker is down: the job is already stored and the
# reconciler enqueues it later, so the HTTP request should not hang on retries.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


class CeleryJobQueue:
    """Enqueue jobs on the given Celery app (the worker's own, or a send-only client)."""

    def __init__(self, app: Celery, countdown: float | None = None):
        self.app = app
        self.countdown = countdown  # seconds the message waits (a debounced job runs as its window closes)

    def __call__(self, job: Job) -> None:
        name, queue = TASK_FOR_JOB[job.type]
        self.app.send_task(name, args=[str(job.id)], queue=queue, countdown=self.countdown,
                           retry_policy=PUBLISH_RETRY_POLICY)


def task_routes() -> dict:
    """Celery's task_routes for the job tasks."""
    return {name: {"queue": queue} for name, queue in TASK_FOR_JOB.values()}

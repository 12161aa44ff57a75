"""The one worker entry module: `celery -A worker.celery_app worker|beat`."""
from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from dcoe import servers
from dcoe.config import Settings
from dcoe.queue import task_routes
from store.engine import dispose_engines
from worker import logs


def beat_schedule(settings: Settings) -> dict:
    """The periodic work; an interval of 0 switches an entry off."""
    schedule = {
        # Lost messages (Redis restarted, broker down at enqueue) and dead workers: re-enqueue
        # or fail within about RECONCILE_INTERVAL_SECONDS + JOB_STALE_SECONDS.
        "reconcile-jobs": {"task": "jobs.reconcile", "schedule": float(settings.reconcile_interval_seconds)},
        # Cases arrive all day; beat assigns whatever is open and unassigned, like a manual run;
        # the interval travels with the message: it sizes the slot that makes two beats one job.
        "assign-cases": {"task": "assignment.schedule", "schedule": float(settings.assign_interval_seconds),
                         "args": (settings.assign_interval_seconds,)},
        # Keeps the dashboard's snapshot at most this old even when nothing else refreshed it.
        "refresh-analytics": {"task": "analytics.schedule", "schedule": float(settings.analytics_interval_seconds)},
        # Promises fall due by the day: hourly (PROMISE_INTERVAL_SECONDS) closes those past due date
        # + grace within an hour of the day turning (UTC); payments keep promises as they come, so
        # nothing else waits for it. One job per interval however many beats run.
        "evaluate-promises": {"task": "promises.schedule", "schedule": float(settings.promise_interval_seconds),
                              "args": (settings.promise_interval_seconds,)},
    }
    return {name: entry for name, entry in schedule.items() if entry["schedule"] > 0}


def create_celery(settings: Settings) -> Celery:
    """The Celery app configured from the settings."""
    app = Celery("dcoe", broker=settings.redis_url, include=[
        "worker.tasks.jobs",
        "worker.tasks.ingest",
        "worker.tasks.assignment",
        "worker.tasks.analytics",
        "worker.tasks.payments",
        "worker.tasks.promises",
        "worker.tasks.contacts",
    ])
    app.conf.update(
        task_default_queue="default",
        task_routes=task_routes(),
        task_ignore_result=True,  # results live in the jobs table
        task_acks_late=True,  # a task killed mid-way is delivered again ...
        task_reject_on_worker_lost=True,  # ... including when its process dies
        worker_prefetch_multiplier=1,  # a long ingest does not hold other jobs hostage
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=max(settings.task_time_limit_seconds - 30, 1),
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": settings.task_time_limit_seconds + 600},
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
    )
    app.conf.dcoe_settings = settings
    return app


@worker_process_init.connect
def _fresh_connections_after_fork(**_):
    dispose_engines()


logs.init_worker(servers.settings().log_format)  # before Celery sets up its logging, after this import
app = create_celery(servers.settings())

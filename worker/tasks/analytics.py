"""Analytics tasks: compute a snapshot, beat's periodic refresh, a refresh after data jobs."""
from __future__ import annotations

from functools import lru_cache

import redis
from celery import shared_task
from celery.signals import task_postrun

from dcoe import debounce, servers
from dcoe.servers import redis_client_url
from domain import analytics
from worker.harness import execute, queue, uow_factory

# The jobs that change what the summary shows; `execute` returns the job's outcome.
_REFRESH_AFTER = frozenset({"ingest.run", "assignment.run"})


@shared_task(name="analytics.refresh", bind=True)
def refresh(self, job_id: str) -> str:
    """Compute and store a summary snapshot; the job's result is the summary."""
    return execute(self, job_id, analytics.refresh_summary)


@shared_task(name="analytics.schedule", bind=True)
def schedule(self) -> str:
    """Beat: start a refresh, unless one is already queued or running."""
    with uow_factory()() as uow:
        return str(analytics.ensure_refresh(uow, queue(self), created_by=None).id)


@task_postrun.connect
def _refresh_after_data_jobs(sender=None, retval=None, **_) -> None:
    """A succeeded ingest or assign job asks for a debounced refresh."""
    if sender is None or sender.name not in _REFRESH_AFTER or retval != "succeeded":
        return
    debounce.refresh_soon(lambda: sender.app, _redis, lambda: uow_factory()())


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(redis_client_url(servers.settings().redis_url),
                                socket_timeout=2, socket_connect_timeout=2)

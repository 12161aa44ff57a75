"""Analytics tasks: compute a snapshot, beat's periodic refresh, a refresh after data jobs."""
from __future__ import annotations

import logging
from functools import lru_cache

import redis
from celery import shared_task
from celery.signals import task_postrun

from dcoe import runtime
from dcoe.queue import CeleryJobQueue
from dcoe.runtime import redis_client_url
from domain import analytics
from worker.runtime import execute, queue, uow_factory

log = logging.getLogger(__name__)

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
    try:
        later = CeleryJobQueue(sender.app, countdown=analytics.REFRESH_DEBOUNCE_SECONDS)
        with uow_factory()() as uow:
            analytics.debounced_refresh(uow, later, _first_in_window)
    except Exception:  # noqa: BLE001 - beat refreshes within ANALYTICS_INTERVAL_SECONDS regardless
        log.warning("could not request an analytics refresh", exc_info=True)


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(redis_client_url(runtime.settings().redis_url),
                                socket_timeout=2, socket_connect_timeout=2)


def _first_in_window(name: str, seconds: int) -> bool:
    return bool(_redis().set(name, 1, nx=True, ex=seconds))

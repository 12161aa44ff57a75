"""What every task needs: the settings, a unit-of-work factory, the queue, the job harness."""
from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, partial

import redis
from celery import Task, current_app
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from dcoe import servers
from dcoe.bus import message_bus
from dcoe.queue import CeleryJobQueue
from dcoe.servers import redis_client_url
from domain.job_runner import fail, fail_unexpectedly, run_job
from domain.messagebus import MessageBus
from store.engine import get_engine
from store.uow import UnitOfWork

log = logging.getLogger(__name__)


def uow_factory() -> Callable[[], UnitOfWork]:
    """A factory of units of work on this process's database; committed events go to its bus."""
    return partial(UnitOfWork, _engine(), publish=_bus().publish)


def _engine() -> Engine:
    return get_engine(servers.settings().database_url)


@lru_cache(maxsize=1)
def _bus() -> MessageBus:
    """The worker's message bus: what follows the changes its jobs commit."""
    return message_bus(lambda: current_app, _redis, lambda: UnitOfWork(_engine()))


@lru_cache(maxsize=1)
def _redis() -> redis.Redis:
    return redis.Redis.from_url(redis_client_url(servers.settings().redis_url),
                                socket_timeout=2, socket_connect_timeout=2)


def queue(task: Task) -> CeleryJobQueue:
    """The job queue on the task's own Celery app."""
    return CeleryJobQueue(task.app)


def execute(task: Task, job_id: str, handler) -> str:
    """Run a job through the harness; a crash is retried by Celery, then the job is failed."""
    settings = servers.settings()
    try:
        with _cyclic_gc_paused():
            return run_job(uuid.UUID(job_id), uow_factory(), handler, max_attempts=settings.job_max_attempts)
    except SoftTimeLimitExceeded:  # running it again would only time out again
        log.warning("job timed out", extra={"job_id": job_id})
        fail(uuid.UUID(job_id), uow_factory(), "Timed out",
             f"the job ran longer than TASK_TIME_LIMIT_SECONDS ({settings.task_time_limit_seconds} s) allows")
        return "failed"
    except Exception as exc:
        if task.request.retries < settings.job_max_attempts - 1:
            log.warning("job crashed; retrying", extra={"job_id": job_id, "error": type(exc).__name__})
            countdown = 1 if isinstance(exc, DBAPIError) else 2 ** task.request.retries
            raise task.retry(exc=exc, countdown=countdown) from exc
        log.exception("job crashed; giving up", extra={"job_id": job_id})
        fail_unexpectedly(uuid.UUID(job_id), uow_factory(), exc)
        return "failed"


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while a job runs. A job makes millions of short-lived objects
    (rows, plans) that reference counting frees, and none of them cyclic; collections triggered by
    their allocation counts only rescan them (a quarter of an assignment run's dealing time).
    Whatever cycles a job leaves are collected as usual once it ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

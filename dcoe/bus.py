"""A process's message bus: the domain's handlers (domain.messagebus) wired to Celery and Redis.

The web and the worker each build one and give it to their units of work, which publish what
their use cases recorded once it is committed.
"""
from __future__ import annotations

from collections.abc import Callable

import redis
from celery import Celery

from dcoe.queue import CeleryJobQueue
from domain import analytics
from domain.jobs import Job
from domain.messagebus import Dependencies, MessageBus
from domain.unit_of_work import UnitOfWork


def message_bus(celery: Callable[[], Celery], redis_client: Callable[[], redis.Redis],
                unit_of_work: Callable[[], UnitOfWork]) -> MessageBus:
    """The bus of this process; the factories are called when a handler needs them, not before."""

    def enqueue_later(job: Job) -> None:
        CeleryJobQueue(celery(), countdown=analytics.REFRESH_DEBOUNCE_SECONDS)(job)

    def first_in_window(name: str, seconds: int) -> bool:
        # a Redis key set only if absent, expiring as the window closes
        return bool(redis_client().set(name, 1, nx=True, ex=seconds))

    return MessageBus(Dependencies(unit_of_work, enqueue_later, first_in_window))

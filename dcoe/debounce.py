"""The debounced analytics refresh asked for after cases change, by the web and by the worker."""
from __future__ import annotations

import logging
from typing import Callable, ContextManager

import redis
from celery import Celery

from dcoe.queue import CeleryJobQueue
from domain import analytics

log = logging.getLogger(__name__)


def refresh_soon(app: Callable[[], Celery], client: Callable[[], redis.Redis],
                 unit_of_work: Callable[[], ContextManager]) -> None:
    """Ask for a debounced refresh (domain.analytics.debounced_refresh); never raises (the change stands anyway).

    The window is a Redis key set only if absent, expiring as the window closes; the job is sent
    on the Celery `app`, delayed until then. The arguments are factories, called inside the guard.
    """
    try:
        later = CeleryJobQueue(app(), countdown=analytics.REFRESH_DEBOUNCE_SECONDS)
        with unit_of_work() as uow:
            analytics.debounced_refresh(
                uow, later, lambda name, seconds: bool(client().set(name, 1, nx=True, ex=seconds)))
    except Exception:  # noqa: BLE001 - beat refreshes within ANALYTICS_INTERVAL_SECONDS regardless
        log.warning("could not request an analytics refresh", exc_info=True)

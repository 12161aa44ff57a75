"""The policies that follow a committed change, and the bus that runs them (cosmicpython ch. 8–9).

`HANDLERS` is the one place that says what follows what. Each process (the web, a worker) builds
one `MessageBus` with its own `Dependencies`: how to reach the database, delay a job and open a
debounce window in that process. A handler runs after the change committed: its failure is
logged and never undoes the change.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from domain import analytics
from domain.events import CasesChanged, CollectingChanged, Event, PromisesChanged
from domain.jobs import Enqueue
from domain.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dependencies:
    """What the handlers need from the process they run in."""

    unit_of_work: Callable[[], UnitOfWork]
    enqueue_later: Enqueue  # sends a job that runs when the debounce window closes
    first_in_window: Callable[[str, int], bool]  # true for the first call naming a window


def refresh_summary_soon(event: CasesChanged | PromisesChanged | CollectingChanged, deps: Dependencies) -> None:
    """What the summary counts changed: refresh it once the debounce window closes."""
    with deps.unit_of_work() as uow:
        analytics.debounced_refresh(uow, deps.enqueue_later, deps.first_in_window)


Handler = Callable[[Event, Dependencies], None]
HANDLERS: dict[type[Event], tuple[Handler, ...]] = {
    CasesChanged: (refresh_summary_soon,),
    PromisesChanged: (refresh_summary_soon,),
    CollectingChanged: (refresh_summary_soon,),
}


class MessageBus:
    """Runs the handlers of each committed event, once per distinct event of a commit."""

    def __init__(self, deps: Dependencies):
        self._deps = deps

    def publish(self, events: Iterable[Event]) -> None:
        """Hand each distinct event to its handlers; never raises (the change stands anyway)."""
        for event in dict.fromkeys(events):
            for handle in HANDLERS.get(type(event), ()):
                try:
                    handle(event, self._deps)
                except Exception:
                    log.warning("handling an event failed", extra={"event": type(event).__name__}, exc_info=True)

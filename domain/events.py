"""Events: what a use case records about a change, for the policies that follow it.

A use case records an event on its unit of work (`uow.record(...)`); the unit of work hands the
events to its process's message bus once the change is committed (`domain.messagebus`). A
rolled-back change publishes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Something that happened and was committed."""


@dataclass(frozen=True)
class CasesChanged(Event):
    """Cases were added, changed, moved along the workflow, assigned or released: the figures of
    the collection summary may have moved."""

    reason: str  # "status", "ingest", "assignment", "agent released": for the logs


@dataclass(frozen=True)
class PromisesChanged(Event):
    """Promises were taken, cancelled or closed: the summary's promise figures may have moved."""

    reason: str  # "taken", "cancelled", "evaluated"


@dataclass(frozen=True)
class CollectingChanged(Event):
    """Contacts were recorded or holds placed or lifted: the summary's collecting figures may have moved."""

    reason: str  # "contact", "hold", "hold lifted", "pauses ended", "dialer log"

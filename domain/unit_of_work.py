"""The unit of work the use cases are written against: a typed protocol (cosmicpython's
`AbstractUnitOfWork`). `store.uow.UnitOfWork` implements it on PostgreSQL; the unit tests use an
in-memory fake. `with uow: ...; uow.commit()`: leaving the block without a commit rolls back.
"""
from __future__ import annotations

from typing import Any, Protocol

from domain.events import Event


class UnitOfWork(Protocol):
    """One transaction and the stores that work in it."""

    users: Any
    jobs: Any
    uploads: Any
    ingest: Any
    cases: Any
    assignment: Any
    analytics: Any

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None:
        """Commit what was done so far, then publish the events recorded meanwhile."""

    def rollback(self) -> None:
        """Discard what was done, and the events recorded, since the last commit."""

    def record(self, event: Event) -> None:
        """Remember an event; it is published once the change commits."""

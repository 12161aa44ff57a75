"""The unit of work the use cases are written against: a typed protocol (cosmicpython's
`AbstractUnitOfWork`). `store.uow.UnitOfWork` implements it on PostgreSQL; the unit tests use an
in-memory fake (tests/unit/fakes.py); the stores' protocols are in `domain.stores`.
`with uow: ...; uow.commit()`: leaving the block without a commit rolls back.
"""
from __future__ import annotations

from typing import Protocol

from domain.events import Event
from domain.stores import (
    AnalyticsStore,
    AssignmentStore,
    CaseStore,
    ContactPolicyStore,
    ContactStore,
    DialerLogStore,
    HoldStore,
    IngestStore,
    JobStore,
    PaymentFileStore,
    PaymentStore,
    PromiseStore,
    UploadStore,
    UserStore,
)


class UnitOfWork(Protocol):
    """One transaction and the stores that work in it."""

    # read-only properties, so that an implementation's own store classes (SQL or in memory) fit
    @property
    def users(self) -> UserStore: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def uploads(self) -> UploadStore: ...

    @property
    def ingest(self) -> IngestStore: ...

    @property
    def cases(self) -> CaseStore: ...

    @property
    def assignment(self) -> AssignmentStore: ...

    @property
    def analytics(self) -> AnalyticsStore: ...

    @property
    def payments(self) -> PaymentStore: ...

    @property
    def promises(self) -> PromiseStore: ...

    @property
    def payment_files(self) -> PaymentFileStore: ...

    @property
    def contacts(self) -> ContactStore: ...

    @property
    def dialer_logs(self) -> DialerLogStore: ...

    @property
    def holds(self) -> HoldStore: ...

    @property
    def contact_policy(self) -> ContactPolicyStore: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None:
        """Commit what was done so far, then publish the events recorded meanwhile."""

    def rollback(self) -> None:
        """Discard what was done, and the events recorded, since the last commit."""

    def record(self, event: Event) -> None:
        """Remember an event; it is published once the change commits."""

"""Unit of work: one connection, one transaction; leaving the block without commit rolls back.
A reading unit of work (`read_only=True`) runs each statement on its own, in autocommit: no BEGIN
and no ROLLBACK around a request's one or two SELECTs, two round trips fewer each time."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import Connection, Engine

from domain.events import Event
from store.analytics import AnalyticsStore
from store.assignment import AssignmentStore
from store.cases import CaseStore
from store.contact_policy import ContactPolicyStore
from store.contacts import ContactStore
from store.dialer_logs import DialerLogStore
from store.holds import HoldStore
from store.ingest import IngestStore
from store.jobs import JobStore
from store.payment_files import PaymentFileStore
from store.payments import PaymentStore
from store.promises import PromiseStore
from store.uploads import UploadStore
from store.users import UserStore


class UnitOfWork:
    """`with UnitOfWork(engine) as uow: ...; uow.commit()` — cosmicpython's pattern, SQLAlchemy 2.

    Implements `domain.unit_of_work.UnitOfWork`. The events a use case records are handed to
    `publish` (the process's message bus) after the commit that makes them true.
    """

    connection: Connection

    def __init__(self, engine: Engine, publish: Callable[[Iterable[Event]], None] | None = None, *,
                 read_only: bool = False):
        self._engine = engine
        self._publish = publish
        self._events: list[Event] = []
        self._read_only = read_only

    def __enter__(self) -> UnitOfWork:
        self.connection = self._engine.connect()
        if self._read_only:  # the isolation level goes back to the default when the pool takes it back
            self.connection.execution_options(isolation_level="AUTOCOMMIT")
            self._transaction = None
        else:
            self._transaction = self.connection.begin()
        conn = self.connection
        self.users = UserStore(conn)
        self.jobs = JobStore(conn)
        self.uploads = UploadStore(conn)
        self.ingest = IngestStore(conn)
        self.cases = CaseStore(conn)
        self.assignment = AssignmentStore(conn)
        self.analytics = AnalyticsStore(conn)
        self.payments = PaymentStore(conn)
        self.promises = PromiseStore(conn)
        self.payment_files = PaymentFileStore(conn)
        self.contacts = ContactStore(conn)
        self.dialer_logs = DialerLogStore(conn)
        self.holds = HoldStore(conn)
        self.contact_policy = ContactPolicyStore(conn)
        return self

    def __exit__(self, *exc_info) -> None:
        self._events = []  # not committed: nothing happened
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self.connection.close()

    def commit(self) -> None:
        """Commit what was done so far, then publish its events; the unit of work stays usable."""
        self._writable()
        self._transaction.commit()
        events, self._events = self._events, []  # committed: theirs to publish, whatever follows
        self._transaction = self.connection.begin()
        if events and self._publish is not None:
            self._publish(events)

    def rollback(self) -> None:
        """Discard what was done, and the events recorded, since the last commit."""
        self._writable()
        self._events = []
        self._transaction.rollback()
        self._transaction = self.connection.begin()

    def record(self, event: Event) -> None:
        """Remember an event; it is published once the change commits."""
        self._writable()
        self._events.append(event)

    def _writable(self) -> None:
        if self._read_only:  # a use case that writes was handed a reader: a bug, never a silent autocommit
            raise RuntimeError("a reading unit of work does not commit, roll back or record events")

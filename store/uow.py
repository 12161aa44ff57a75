"""Unit of work: one connection, one transaction; leaving the block without commit rolls back."""
from __future__ import annotations

from sqlalchemy import Connection, Engine

from store.analytics import AnalyticsStore
from store.assignment import AssignmentStore
from store.cases import CaseStore
from store.ingest import IngestStore
from store.jobs import JobStore
from store.uploads import UploadStore
from store.users import UserStore


class UnitOfWork:
    """`with UnitOfWork(engine) as uow: ...; uow.commit()` — cosmicpython's pattern, SQLAlchemy 2."""

    connection: Connection

    def __init__(self, engine: Engine):
        self._engine = engine

    def __enter__(self) -> "UnitOfWork":
        self.connection = self._engine.connect()
        self._transaction = self.connection.begin()
        conn = self.connection
        self.users = UserStore(conn)
        self.jobs = JobStore(conn)
        self.uploads = UploadStore(conn)
        self.ingest = IngestStore(conn)
        self.cases = CaseStore(conn)
        self.assignment = AssignmentStore(conn)
        self.analytics = AnalyticsStore(conn)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self.connection.close()

    def commit(self) -> None:
        """Commit what was done so far; the unit of work stays usable."""
        self._transaction.commit()
        self._transaction = self.connection.begin()

    def rollback(self) -> None:
        """Discard what was done since the last commit."""
        self._transaction.rollback()
        self._transaction = self.connection.begin()

"""An in-memory unit of work (cosmicpython's FakeUnitOfWork): the use cases' unit tests run on it.

Its stores keep rows in dicts and behave like their SQL twins in store/ for the methods the
use cases under unit test call; the others are tested against PostgreSQL (tests/integration),
and calling one here fails loudly. Rows are copied in and out, as a database's are: changing an
object a store returned changes nothing stored. `rollback` (and leaving the block without a
commit) restores the rows as last committed and drops the recorded events; `commit` publishes
them to `published`.
"""
from __future__ import annotations

import copy
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

from domain.cases import Case, CaseStatus, HistoryEntry, HistoryKind, Priority
from domain.contacts import Contact
from domain.events import Event
from domain.holds import Hold
from domain.jobs import Job, JobState, JobType
from domain.payments import LedgerOutcome, Payment, PaymentMethod, status_after_ledger
from domain.promises import Promise, PromiseStatus, PromiseTerms, counts_toward, kept_threshold, state_of
from domain.users import Role, Team, User
from domain.workflow import StatusChange

from .contact_fakes import FakeContactPolicyStore, FakeContactStore, FakeHoldStore

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class JobRow:
    job: Job
    idempotency_key: str | None = None
    enqueued_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class StoredUpload:
    id: int
    job_id: uuid.UUID
    filename: str | None
    media_type: str
    size_bytes: int
    chunks: int


@dataclass
class Tables:
    """What a transaction changes (and a rollback restores)."""

    users: dict[int, User] = field(default_factory=dict)
    jobs: dict[uuid.UUID, JobRow] = field(default_factory=dict)
    uploads: dict[int, StoredUpload] = field(default_factory=dict)
    chunks: dict[int, dict[int, bytes]] = field(default_factory=dict)  # upload id -> seq -> data
    cases: dict[int, Case] = field(default_factory=dict)
    history: dict[int, list[HistoryEntry]] = field(default_factory=dict)
    resolved_by_payment: set[int] = field(default_factory=set)  # case ids a payment resolved
    payments: dict[int, Payment] = field(default_factory=dict)
    promises: dict[int, Promise] = field(default_factory=dict)
    contacts: dict[int, Contact] = field(default_factory=dict)
    holds: dict[int, Hold] = field(default_factory=dict)
    contact_policy: dict | None = None

    def keyed_job(self, created_by: int | None, key: str) -> JobRow | None:
        """The job its creator stored with this idempotency key (jobs_idempotency_key)."""
        return next((r for r in self.jobs.values() if r.idempotency_key == key and r.job.created_by == created_by),
                    None)

    def add_history(self, case_pk: int, entry: HistoryEntry) -> None:
        self.history.setdefault(case_pk, []).append(entry)


class FakeUnitOfWork:
    """`domain.unit_of_work.UnitOfWork` in memory, bar the set-based stores (ingest, analytics, payment files).

    `now` is the clock its stores read; `held_locks` the jobs a live worker executes.
    """

    def __init__(self, now: datetime = START):
        self.now = now
        self.tables = Tables()
        self.held_locks: set[uuid.UUID] = set()  # session locks: a rollback keeps them
        self.users = FakeUserStore(self)
        self.jobs = FakeJobStore(self)
        self.uploads = FakeUploadStore(self)
        self.cases = FakeCaseStore(self)
        self.assignment = FakeAssignmentStore(self)
        self.ingest = NotInMemory("ingest")
        self.analytics = NotInMemory("analytics")
        self.payments = FakePaymentStore(self)
        self.promises = FakePromiseStore(self)
        self.payment_files = NotInMemory("payment_files")
        self.contacts = FakeContactStore(self)
        self.dialer_logs = NotInMemory("dialer_logs")
        self.holds = FakeHoldStore(self)
        self.contact_policy = FakeContactPolicyStore(self)
        self.commits = 0
        self.published: list[Event] = []
        self._events: list[Event] = []
        self._committed = copy.deepcopy(self.tables)

    def __enter__(self) -> FakeUnitOfWork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()  # nothing left to undo after a commit

    def commit(self) -> None:
        self.commits += 1
        self._committed = copy.deepcopy(self.tables)
        events, self._events = self._events, []
        self.published.extend(events)

    def rollback(self) -> None:
        self._events = []
        self.tables = copy.deepcopy(self._committed)

    def record(self, event: Event) -> None:
        self._events.append(event)

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.now += timedelta(seconds=seconds)

    # --- rows already there when a test starts (committed, not counted as a commit) --------------

    def given_user(self, role: Role = Role.CALL_CENTER_AGENT, *, email: str | None = None, active: bool = True,
                   password_hash: str = "not-a-hash") -> User:
        user_id = max(self.tables.users, default=0) + 1
        user = User(id=user_id, email=email or f"user{user_id}@example.com", name=f"User {user_id}", role=role,
                    active=active, created_at=self.now, password_hash=password_hash)
        self.tables.users[user_id] = replace(user)
        return self._checkpoint(user)

    def given_case(self, status: CaseStatus = CaseStatus.IN_PROGRESS, *, assigned_to: int | None = None,
                   due: str = "1500.00", **values: Any) -> Case:
        case_pk = max(self.tables.cases, default=0) + 1
        case = Case(**{**dict(id=case_pk, case_id=f"CASE-{case_pk}", bank_code="SBI", borrower_name="A B",
                              loan_amount=Decimal("9000.00"), due_amount=Decimal(due), days_past_due=12,
                              priority=Priority.HIGH, region="North", team=Team.CALL_CENTER, status=status,
                              assigned_to=assigned_to, amount_recovered=None, version=1, created_at=self.now,
                              updated_at=self.now, resolved_at=None), **values})
        self.tables.cases[case_pk] = case
        return self._checkpoint(case)

    def given_job(self, state: JobState = JobState.QUEUED, *, created_by: int | None = 1,
                  enqueued_at: datetime | None = None, heartbeat_at: datetime | None = None,
                  idempotency_key: str | None = None, **values: Any) -> Job:
        job = Job(id=uuid.uuid4(), type=JobType.ASSIGN, state=state, created_by=created_by, created_at=self.now,
                  **values)
        self.tables.jobs[job.id] = JobRow(copy.deepcopy(job), idempotency_key, enqueued_at, heartbeat_at)
        return self._checkpoint(job)

    def _checkpoint(self, value):
        self._committed = copy.deepcopy(self.tables)
        return value


class NotInMemory:
    """A store whose work is set-based SQL: its use cases are tested against PostgreSQL."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, method: str):
        raise NotImplementedError(f"uow.{self._name}.{method} has no in-memory fake; test it against PostgreSQL")


class _Store:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    @property
    def _t(self) -> Tables:
        return self._uow.tables


class FakeUserStore(_Store):
    def add(self, *, email: str, name: str, password_hash: str, role: Role) -> User | None:
        if any(u.email.lower() == email.lower() for u in self._t.users.values()):  # users_email_key: lower(email)
            return None
        user_id = max(self._t.users, default=0) + 1
        self._t.users[user_id] = User(id=user_id, email=email, name=name, role=role, active=True,
                                      created_at=self._uow.now, password_hash=password_hash)
        return self.get(user_id)

    def get(self, user_id: int, *, for_update: bool = False) -> User | None:
        user = self._t.users.get(user_id)
        return replace(user) if user else None

    def get_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((replace(u) for u in self._t.users.values() if u.email.lower() == wanted), None)

    def update(self, user_id: int, **changes: Any) -> User:
        self._t.users[user_id] = replace(self._t.users[user_id], **changes)  # KeyError: no row, as .one()
        return replace(self._t.users[user_id])

    def count(self) -> int:
        return len(self._t.users)


class FakeJobStore(_Store):
    def add(self, job: Job, idempotency_key: str | None = None) -> None:
        if job.id in self._t.jobs:
            raise KeyError(f"job {job.id} exists")  # the primary key
        self._t.jobs[job.id] = JobRow(copy.deepcopy(job), idempotency_key)  # created_at: no use case here reads it

    def add_once(self, job: Job, idempotency_key: str) -> bool:
        if self._t.keyed_job(job.created_by, idempotency_key) is not None:  # jobs_idempotency_key, nulls not distinct
            return False
        self.add(job, idempotency_key)
        return True

    def set_params(self, job_id: uuid.UUID, params: dict, *, progress_total: int | None = None) -> None:
        self._job(job_id).params = copy.deepcopy(params)
        if progress_total is not None:
            self._job(job_id).progress_total = progress_total

    def get(self, job_id: uuid.UUID, *, for_update: bool = False) -> Job | None:
        row = self._t.jobs.get(job_id)
        return copy.deepcopy(row.job) if row else None

    def get_by_idempotency_key(self, created_by: int, key: str) -> Job | None:
        row = self._t.keyed_job(created_by, key)
        return copy.deepcopy(row.job) if row else None

    def mark_enqueued(self, job_id: uuid.UUID) -> None:
        self._t.jobs[job_id].enqueued_at = self._uow.now

    def unmark_enqueued(self, job_id: uuid.UUID) -> None:
        row = self._t.jobs[job_id]
        if row.job.state is JobState.QUEUED:
            row.enqueued_at = None

    def request_cancel(self, job_id: uuid.UUID) -> None:
        job = self._job(job_id)
        if job.state is JobState.QUEUED:
            job.state, job.cancel_requested, job.finished_at = JobState.CANCELLED, True, self._uow.now
        elif job.state is JobState.RUNNING:
            job.cancel_requested = True

    def is_locked(self, job_id: uuid.UUID) -> bool:
        return job_id in self._uow.held_locks

    def finish(self, job_id: uuid.UUID, state: JobState, *, result: dict | None = None,
               error: dict | None = None) -> None:
        job = self._job(job_id)
        job.state, job.finished_at = state, self._uow.now
        job.result, job.error = copy.deepcopy(result), copy.deepcopy(error)
        if state is JobState.SUCCEEDED and job.progress_total is not None:
            job.progress_done = job.progress_total

    def requeue(self, job_id: uuid.UUID) -> None:
        row = self._t.jobs[job_id]
        row.job.state, row.enqueued_at = JobState.QUEUED, None

    def unfinished(self) -> list[tuple[Job, datetime | None, datetime | None]]:
        return [(copy.deepcopy(r.job), r.enqueued_at, r.heartbeat_at) for r in self._t.jobs.values()
                if not r.job.state.finished]

    def now(self) -> datetime:
        return self._uow.now

    @property
    def rows(self) -> dict[uuid.UUID, Job]:
        """(For tests) the stored jobs by id."""
        return {job_id: copy.deepcopy(row.job) for job_id, row in self._t.jobs.items()}

    def enqueued_at(self, job_id: uuid.UUID) -> datetime | None:
        """(For tests) when the job was last handed to the broker; no use case reads it back."""
        return self._t.jobs[job_id].enqueued_at

    def _job(self, job_id: uuid.UUID) -> Job:
        return self._t.jobs[job_id].job


class FakeUploadStore(_Store):
    def add_job(self, job: Job, idempotency_key: str | None) -> Job:
        if idempotency_key is not None:
            earlier = self._t.keyed_job(job.created_by, idempotency_key)
            if earlier is not None:  # the unique index refused this one
                return copy.deepcopy(earlier.job)
        self._uow.jobs.add(job, idempotency_key)
        return job

    def add(self, job_id: uuid.UUID, filename: str | None, media_type: str) -> int:
        upload_id = max(self._t.uploads, default=0) + 1
        self._t.uploads[upload_id] = StoredUpload(upload_id, job_id, filename, media_type, 0, 0)
        self._t.chunks[upload_id] = {}
        return upload_id

    def append(self, upload_id: int, seq: int, data: bytes) -> None:
        if seq in self._t.chunks[upload_id]:
            raise KeyError(f"chunk {seq} of upload {upload_id} exists")  # the primary key
        self._t.chunks[upload_id][seq] = bytes(data)

    def finish(self, upload_id: int, *, size_bytes: int, chunks: int) -> None:
        self._t.uploads[upload_id] = replace(self._t.uploads[upload_id], size_bytes=size_bytes, chunks=chunks)

    def for_job(self, job_id: uuid.UUID) -> StoredUpload | None:
        return next((u for u in self._t.uploads.values() if u.job_id == job_id), None)

    @contextmanager
    def open(self, upload_id: int, buffer_bytes: int = 256 * 1024) -> Iterator[BinaryIO]:
        chunks = self._t.chunks[upload_id]
        with io.BufferedReader(io.BytesIO(b"".join(chunks[seq] for seq in sorted(chunks))), buffer_bytes) as stream:
            yield stream

    def stored_chunks(self, upload_id: int) -> list[bytes]:
        """(For tests) the upload's chunks in sequence order."""
        return [data for _, data in sorted(self._t.chunks[upload_id].items())]


class FakeCaseStore(_Store):
    def get(self, case_pk: int, *, for_update: bool = False) -> Case | None:
        case = self._t.cases.get(case_pk)  # frozen: no copy needed
        if case is None:
            return None
        return replace(case, promise=self._uow.promises.open_one(case_pk), on_hold=bool(self._uow.holds.covering(case)))

    def apply_status_change(self, case_pk: int, change: StatusChange, *, by: int | None) -> Case:
        now = self._uow.now
        case = self._t.cases[case_pk]
        self._t.cases[case_pk] = replace(case, status=change.to_status, resolved_at=now if change.resolves else None,
                                         version=case.version + 1, updated_at=now)
        self._t.resolved_by_payment.discard(case_pk)
        self._t.add_history(case_pk, HistoryEntry(now, by, HistoryKind.STATUS, change.from_status.value,
                                                  change.to_status.value, change.comment))
        return self.get(case_pk)

    def history(self, case_pk: int) -> list[HistoryEntry]:
        """Like store.cases._HISTORY: the entries written, and those derived from payments and promises."""
        entries = list(self._t.history.get(case_pk, []))
        for p in (p for p in self._t.payments.values() if p.case_pk == case_pk):
            entries.append(HistoryEntry(p.created_at, p.created_by, HistoryKind.PAYMENT, None, str(p.amount),
                                        f"{p.reference} ({p.method.value})"))
            if p.reversed_at is not None:
                entries.append(HistoryEntry(p.reversed_at, p.reversed_by, HistoryKind.PAYMENT, str(p.amount), None,
                                            f"reversed {p.reference}: {p.reversal_reason}"))
        for pr in (pr for pr in self._t.promises.values() if pr.case_pk == case_pk):
            entries.append(HistoryEntry(pr.created_at, pr.created_by, HistoryKind.PROMISE, None, "open",
                                        f"{pr.amount} by {pr.due_date.isoformat()}"))
            if pr.closed_at is not None:
                entries.append(HistoryEntry(pr.closed_at, None, HistoryKind.PROMISE, "open", pr.status.value,
                                            pr.cancel_reason or f"paid {pr.paid} of {pr.amount}"))
        return sorted(entries, key=lambda entry: entry.at)  # stable: one moment's entries as written


class FakePaymentStore(_Store):
    """The ledger in memory; `apply` makes the moves of domain.payments and domain.promises that
    store.ledger makes in SQL (tests/integration/test_ledger.py holds the SQL to the same rules)."""

    def by_reference(self, bank_code: str, reference: str) -> Payment | None:
        return next((p for p in self._t.payments.values()
                     if p.reference == reference and self._t.cases[p.case_pk].bank_code == bank_code), None)

    def add(self, case: Case, *, amount: Decimal, paid_on: date, reference: str, method: PaymentMethod,
            by: int | None) -> Payment | None:
        if self.by_reference(case.bank_code, reference) is not None:  # payments_bank_reference_key
            return None
        payment_id = max(self._t.payments, default=0) + 1
        self._t.payments[payment_id] = Payment(payment_id, case.id, case.case_id, amount, paid_on, reference, method,
                                               by, self._uow.now)
        return self._t.payments[payment_id]

    def apply(self, case_pk: int, delta: Decimal, *, by: int | None, kept_percent: Decimal,
              new_version: bool = True) -> LedgerOutcome:
        now, case = self._uow.now, self._t.cases[case_pk]
        recovered = (case.amount_recovered or Decimal(0)) + delta
        move = status_after_ledger(case.status, case.due_amount - recovered,
                                   resolved_by_payment=case_pk in self._t.resolved_by_payment)
        changes: dict[str, Any] = {"amount_recovered": recovered or None}
        if new_version:
            changes.update(version=case.version + 1, updated_at=now)
        if move is not None:
            changes.update(status=move.to, resolved_at=now if move.to is CaseStatus.RESOLVED else None)
            (self._t.resolved_by_payment.add if move.resolved_by_payment else self._t.resolved_by_payment.discard)(
                case_pk)
            self._t.add_history(case_pk, HistoryEntry(now, by, HistoryKind.STATUS, case.status.value, move.to.value,
                                                      move.comment))
        self._t.cases[case_pk] = replace(case, **changes)
        kept = self._recount_open_promise(case_pk, kept_percent)
        return LedgerOutcome(paid_off=int(move is not None and move.to is CaseStatus.RESOLVED),
                             reopened=int(move is not None and move.to is CaseStatus.IN_PROGRESS), promises_kept=kept)

    def _recount_open_promise(self, case_pk: int, kept_percent: Decimal) -> int:
        promise = self._uow.promises.open_one(case_pk)
        if promise is None:
            return 0
        paid = sum((p.amount for p in self._t.payments.values() if p.case_pk == case_pk and p.reversed_at is None
                    and counts_toward(p.paid_on, p.created_at, promise.created_at)), Decimal(0))
        kept = paid >= kept_threshold(promise.amount, kept_percent)
        status = PromiseStatus.KEPT if kept else promise.status
        self._t.promises[promise.id] = replace(promise, paid=paid, status=status,
                                               closed_at=self._uow.now if kept else None)
        return int(kept)

    def get(self, payment_id: int) -> Payment | None:
        return self._t.payments.get(payment_id)

    def reverse(self, payment_id: int, *, by: int | None, reason: str) -> Payment:
        self._t.payments[payment_id] = replace(self._t.payments[payment_id], reversed_at=self._uow.now,
                                               reversed_by=by, reversal_reason=reason)
        return self._t.payments[payment_id]

    def list(self, case_pk: int, *, after_id: int | None, limit: int) -> list[Payment]:
        return [p for _, p in sorted(self._t.payments.items())
                if p.case_pk == case_pk and (after_id is None or p.id > after_id)][:limit]


class FakePromiseStore(_Store):
    def add(self, case: Case, *, amount: Decimal, due_date: date, by: int | None) -> Promise | None:
        if self.open_one(case.id) is not None:  # promises_one_open_key
            return None
        promise_id = max(self._t.promises, default=0) + 1
        self._t.promises[promise_id] = Promise(promise_id, case.id, case.case_id, amount, due_date, PromiseStatus.OPEN,
                                               Decimal("0.00"), by, self._uow.now)
        return self._t.promises[promise_id]

    def get(self, promise_id: int) -> Promise | None:
        return self._t.promises.get(promise_id)

    def cancel(self, promise_id: int, *, by: int | None, reason: str) -> Promise | None:
        promise = self._t.promises[promise_id]
        if promise.status is not PromiseStatus.OPEN:
            return None
        self._t.promises[promise_id] = replace(promise, status=PromiseStatus.CANCELLED, closed_at=self._uow.now,
                                               cancel_reason=reason)
        return self._t.promises[promise_id]

    def list(self, case_pk: int, *, after_id: int | None, limit: int) -> list[Promise]:
        return [p for _, p in sorted(self._t.promises.items())
                if p.case_pk == case_pk and (after_id is None or p.id > after_id)][:limit]

    def close_decided(self, as_of: date, *, grace_days: int, kept_percent: Decimal) -> dict[PromiseStatus, int]:
        terms, closed = PromiseTerms(grace_days=grace_days, kept_percent=kept_percent), {}
        for promise in [p for p in self._t.promises.values() if p.status is PromiseStatus.OPEN]:
            status = state_of(promise.amount, promise.paid, promise.due_date, as_of, terms)
            if status is not PromiseStatus.OPEN:
                self._t.promises[promise.id] = replace(promise, status=status, closed_at=self._uow.now)
                closed[status] = closed.get(status, 0) + 1
        return closed

    def open_one(self, case_pk: int) -> Promise | None:
        """(Like the case store's join) the case's open promise."""
        return next((p for p in self._t.promises.values() if p.case_pk == case_pk and p.status is PromiseStatus.OPEN),
                    None)


class FakeAssignmentStore(_Store):
    def __init__(self, uow: FakeUnitOfWork):
        super().__init__(uow)
        self.serialized = 0  # how many times the run lock was taken

    def serialize_runs(self) -> None:
        self.serialized += 1

    def release_agent_cases(self, user_id: int, *, by: int | None, reason: str) -> int:
        """Like store.releases: unassigned, Pending, version bumped; the assignment's end, then the move."""
        self.serialize_runs()
        now, pending = self._uow.now, CaseStatus.PENDING
        held = [c for c in self._t.cases.values() if c.assigned_to == user_id and c.status is not CaseStatus.RESOLVED]
        for case in held:
            self._t.cases[case.id] = replace(case, assigned_to=None, status=pending, version=case.version + 1,
                                             updated_at=now)
            self._t.add_history(case.id, HistoryEntry(now, by, HistoryKind.ASSIGNMENT, user_id, None, reason))
            if case.status is not pending:
                self._t.add_history(case.id, HistoryEntry(now, by, HistoryKind.STATUS, case.status.value,
                                                          pending.value, reason))
        return len(held)

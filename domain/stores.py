"""The stores a unit of work hands out, as protocols: exactly what the use cases call on them.

`store/` implements each on PostgreSQL (`store.users.UserStore` is `UserStore`, and so on; a unit
test checks the names and parameters match); the unit tests' in-memory fakes implement them too.
The vocabulary is the domain's: jobs, users, cases, bands, candidates, cells — never a connection.
"""
from __future__ import annotations

import builtins
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import BinaryIO, Protocol

from domain.analytics import Agent, Cell, PaymentTotals, PromiseTotals
from domain.assignment import Assignment, Candidate
from domain.case_queries import CaseFilter, CaseSort
from domain.cases import Case, CaseStatus, HistoryEntry
from domain.contact_figures import ContactTotals
from domain.contact_policy import ActiveHold, ContactPolicy, HoldType, PastContact, Reason
from domain.contacts import Contact, NewContact, RecordedLog
from domain.holds import Hold, HoldScope
from domain.jobs import Job, JobState
from domain.payments import LedgerOutcome, Payment, PaymentMethod
from domain.promises import Promise, PromiseStatus
from domain.routing import Band
from domain.users import Role, Team, User
from domain.workflow import StatusChange


class UserStore(Protocol):
    def add(self, *, email: str, name: str, password_hash: str, role: Role) -> User | None:
        """The new user; None when the email is taken (case-insensitively)."""

    def get(self, user_id: int, *, for_update: bool = False) -> User | None:
        """The user, optionally locked until commit; None when there is none."""

    def get_by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively."""

    def update(self, user_id: int, **changes: object) -> User:
        """Change these fields (name, role, active, password_hash) of an existing user."""

    def list(self, *, role: str | None, active: bool | None, after_id: int | None,
             limit: int) -> builtins.list[User]:
        """Users in id order after `after_id`, optionally of one role and activity."""

    def count(self) -> int:
        """How many users there are."""


class JobStore(Protocol):
    def add(self, job: Job, idempotency_key: str | None = None) -> None:
        """Store a new job."""

    def add_once(self, job: Job, idempotency_key: str) -> bool:
        """Store the job unless its creator already used the key; True when stored."""

    def set_params(self, job_id: uuid.UUID, params: dict, *, progress_total: int | None = None) -> None:
        """Replace the job's params (and its progress total when given)."""

    def get(self, job_id: uuid.UUID, *, for_update: bool = False) -> Job | None:
        """The job, optionally locked until commit; None when there is none."""

    def get_by_idempotency_key(self, created_by: int, key: str) -> Job | None:
        """The job this creator stored with this key."""

    def list(self, *, created_by: int | None, job_type: str | None, state: str | None,
             after: tuple[datetime, uuid.UUID] | None, limit: int) -> builtins.list[Job]:
        """Jobs newest first, after the keyset `after` (created_at, id)."""

    def mark_enqueued(self, job_id: uuid.UUID) -> None:
        """Note that the job was handed to the broker just now."""

    def unmark_enqueued(self, job_id: uuid.UUID) -> None:
        """Note that a still queued job is not in the broker (its enqueue failed)."""

    def request_cancel(self, job_id: uuid.UUID) -> None:
        """Queued: cancelled at once. Running: flagged, to stop at its next checkpoint."""

    def try_lock(self, job_id: uuid.UUID) -> bool:
        """Take the job's execution lock; False when another worker holds it."""

    def unlock(self, job_id: uuid.UUID) -> None:
        """Release the job's execution lock."""

    def is_locked(self, job_id: uuid.UUID) -> bool:
        """True while some live worker holds the job's execution lock."""

    def claim(self, job_id: uuid.UUID) -> Job | None:
        """Move an unfinished job to running and count the attempt; None when it is finished."""

    def report_progress(self, job_id: uuid.UUID, done: int, total: int | None) -> bool:
        """Store progress and a heartbeat; True when a cancel was requested."""

    def finish(self, job_id: uuid.UUID, state: JobState, *, result: dict | None = None,
               error: dict | None = None) -> None:
        """End the job in this state, with its result or error."""

    def requeue(self, job_id: uuid.UUID) -> None:
        """Put a running job whose worker was lost back in the queue."""

    def unfinished(self) -> builtins.list[tuple[Job, datetime | None, datetime | None]]:
        """Queued and running jobs with their enqueue time and last heartbeat."""

    def now(self) -> datetime:
        """The transaction's time."""


class StoredUpload(Protocol):
    """An uploaded file as stored."""

    @property
    def id(self) -> int: ...

    @property
    def media_type(self) -> str: ...  # csv | json | ndjson


class UploadStore(Protocol):
    def add_job(self, job: Job, idempotency_key: str | None) -> Job:
        """Store the job; the job stored first when its creator already used the key."""

    def add(self, job_id: uuid.UUID, filename: str | None, media_type: str) -> int:
        """A new, empty upload for the job; returns its id."""

    def append(self, upload_id: int, seq: int, data: bytes) -> None:
        """Store the next chunk of the upload."""

    def finish(self, upload_id: int, *, size_bytes: int, chunks: int) -> None:
        """Record the size of a completely stored upload."""

    def for_job(self, job_id: uuid.UUID) -> StoredUpload | None:
        """The job's upload; None when there is none."""

    def open(self, upload_id: int, buffer_bytes: int = ...) -> AbstractContextManager[BinaryIO]:
        """The upload as a binary stream, read a chunk at a time."""


class Stager(Protocol):
    def accepted(self, line_no: int, case: Sequence, team: str, text: str) -> tuple:
        """The staging row of a valid case; `text` is the row as received."""

    def rejected(self, line_no: int, case_id: str | None, problems: Sequence, text: str) -> tuple:
        """The staging row of a rejected row; `text` is the row as received."""

    def add(self, rows: list[tuple]) -> None:
        """Stage a batch of rows."""


class IngestStore(Protocol):
    def staging(self, job_id: uuid.UUID) -> AbstractContextManager[Stager]:
        """The job's staging area and a loader of batches into it."""

    def reject_duplicates(self, job_id: uuid.UUID, message: str) -> None:
        """Reject each row whose case_id appeared on an earlier line."""

    def keep_errors(self, job_id: uuid.UUID) -> None:
        """Keep every problem of every rejected row."""

    def rejected_count(self) -> int:
        """Staged rows that were rejected."""

    def match_cases(self) -> int:
        """Find the stored case of each accepted row (after `serialize_writers`); returns how many."""

    def lock_moving_cases(self) -> int:
        """Lock the stored cases the file routes to another team; returns how many."""

    def release_moving_cases(self, job_id: uuid.UUID, *, open_statuses: list[str], reason: str) -> int:
        """Release the open, assigned cases that move team; returns how many."""

    def serialize_writers(self) -> None:
        """Wait for other ingest jobs writing cases, then hold them off until commit."""

    def refresh_cases(self, job_id: uuid.UUID) -> int:
        """Update the stored cases whose values changed; returns how many."""

    def insert_cases(self, job_id: uuid.UUID) -> int:
        """Insert the accepted rows whose case_id is new; returns how many."""

    def errors_sample(self, job_id: uuid.UUID, limit: int, field_order: list[str]) -> list[dict]:
        """The first `limit` errors of the job, in file order."""

    def iter_errors(self, job_id: uuid.UUID, field_order: list[str], batch: int = ...) -> Iterator[tuple]:
        """Every error of the job in file order, as (line, case_id, field, message)."""


class CaseStore(Protocol):
    def get(self, case_pk: int, *, for_update: bool = False) -> Case | None:
        """The case, optionally locked until commit; None when there is none."""

    def list(self, case_filter: CaseFilter, sort: CaseSort, *, after: tuple | None,
             limit: int) -> builtins.list[Case]:
        """Filtered cases in sort order, after the keyset `after`."""

    def apply_status_change(self, case_pk: int, change: StatusChange, *, by: int | None) -> Case:
        """Write the change (a new version) and its history entry."""

    def history(self, case_pk: int) -> builtins.list[HistoryEntry]:
        """The case's status, assignment, payment and promise entries, oldest first."""


class AssignmentStore(Protocol):
    def serialize_runs(self) -> None:
        """Wait for, then hold until commit, the lock of assignment runs."""

    def candidates(self, batch: int, priorities: list[str]
                   ) -> AbstractContextManager[tuple[int, Iterator[list[Candidate]]]]:
        """(how many, the batches): every open, unassigned case, in the contract's order."""

    def active_agents(self) -> dict[Team, list[int]]:
        """Active agents' ids per team, in id order."""

    def rotation(self) -> dict[Team, int | None]:
        """The last agent each team's rotation served."""

    def save_rotation(self, last_agents: dict[Team, int]) -> None:
        """Remember the last agent each team's rotation served."""

    def plan_data(self, assignments: dict[Team, list[Assignment]],
                  status_moves: dict[CaseStatus, CaseStatus]) -> bytes:
        """A batch of the plan, in the form `stage` takes."""

    def stage(self, data: bytes) -> None:
        """Add a batch of the plan (`plan_data`) to this transaction's plan."""

    def apply_staged(self, *, by: int | None, job_id: uuid.UUID) -> Counter[tuple[Team, int]]:
        """Write the staged plan, skipping cases changed since read; counts per (team, agent)."""

    def release_agent_cases(self, user_id: int, *, by: int | None, reason: str) -> int:
        """Take an agent's open cases back (unassigned, Pending); returns how many."""

    def bands(self) -> list[Band]:
        """The routing bands in force, in order."""

    def replace_bands(self, bands: list[Band]) -> None:
        """Replace the routing bands."""


class AnalyticsStore(Protocol):
    def cells(self, bands: list[Band], buckets: Sequence[tuple[str, int | None]]) -> list[Cell]:
        """All cases grouped by agent, status, routed team and aging bucket."""

    def agents(self) -> list[Agent]:
        """Every user with a team, active or not."""

    def payment_totals(self, first_day: date, last_day: date) -> PaymentTotals:
        """Payments not reversed with paid_on from first_day to last_day (inclusive): count and sum."""

    def promise_totals(self, *, closed_after: datetime, closed_until: datetime) -> PromiseTotals:
        """Promises open now, and those closed after closed_after up to closed_until, per status."""

    def contact_totals(self, *, after: datetime, until: datetime) -> ContactTotals:
        """Contacts made and holds placed in (after, until]: the summary's contact figures."""

    def add_snapshot(self, summary: dict, *, as_of: datetime, job_id: uuid.UUID | None) -> None:
        """Store a computed summary."""

    def prune_snapshots(self, *, before: datetime) -> None:
        """Delete the snapshots older than `before`."""

    def latest_summary(self) -> dict | None:
        """The most recent snapshot's summary."""

    def lock_refresh_requests(self) -> None:
        """Serialize 'is a refresh already coming?' decisions until commit."""

    def unfinished_refresh_id(self) -> uuid.UUID | None:
        """The oldest analytics job still queued or running."""


class PaymentStore(Protocol):
    """The payments ledger (store/payments.py)."""

    def by_reference(self, bank_code: str, reference: str) -> Payment | None:
        """The payment the bank recorded under this reference; None when there is none."""

    def add(self, case: Case, *, amount: Decimal, paid_on: date, reference: str, method: PaymentMethod,
            by: int | None) -> Payment | None:
        """Record a payment of the case; None (nothing written) when the bank already used the reference."""

    def apply(self, case_pk: int, delta: Decimal, *, by: int | None, kept_percent: Decimal,
              new_version: bool = True) -> LedgerOutcome:
        """Move the locked case's recovery by `delta` with the status move it makes, and its open
        promise's count; `new_version` False when this transaction already made the case's new version."""

    def get(self, payment_id: int) -> Payment | None:
        """The payment; None when there is none."""

    def reverse(self, payment_id: int, *, by: int | None, reason: str) -> Payment:
        """Mark the payment reversed now, with who and why."""

    def list(self, case_pk: int, *, after_id: int | None, limit: int) -> builtins.list[Payment]:
        """The case's payments in id order (oldest first), after `after_id`."""


class PromiseStore(Protocol):
    """Promises to pay (store/promises.py)."""

    def add(self, case: Case, *, amount: Decimal, due_date: date, by: int | None) -> Promise | None:
        """Take an open promise on the case; None (nothing written) when it has one open already."""

    def get(self, promise_id: int) -> Promise | None:
        """The promise; None when there is none."""

    def cancel(self, promise_id: int, *, by: int | None, reason: str) -> Promise | None:
        """Close the promise as cancelled, now, with who and why; None (nothing written) when it is
        no longer open."""

    def list(self, case_pk: int, *, after_id: int | None, limit: int) -> builtins.list[Promise]:
        """The case's promises in id order (oldest first), after `after_id`."""

    def close_decided(self, as_of: date, *, grace_days: int, kept_percent: Decimal) -> dict[PromiseStatus, int]:
        """Close every open promise `as_of` decides (kept at its threshold; partial or broken once
        past due date + grace); how many closed as each status."""


class PaymentFileStore(Protocol):
    """The bank's payments file, set-based (store/payment_files.py), in the job's transaction."""

    def staging(self) -> AbstractContextManager[None]:
        """The file's staging area, filled by `stage` inside the block."""

    def stage(self, rows: list[tuple]) -> None:
        """Stage a batch of checked rows: (line, case_id, amount, paid_on, reference, method,
        problem fields, problem messages), the problems None for a valid row."""

    def match_rows(self, *, unknown_case: str, conflict: str, repeated: str) -> int:
        """Match the valid rows to their cases and the payments recorded: reject unknown case_ids,
        conflicting references and references repeated in the file ('{line}': the first); the same
        payment again is a duplicate. Returns how many rows are new payments."""

    def lock_cases(self) -> int:
        """Lock the cases the new payments pay (in id order) and read their balances; returns how many."""

    def reject_overpayments(self, message: str) -> int:
        """Reject, in file order, each new payment that takes its case's balance below 0
        ('{balance}' in `message`: the balance before the file); returns how many."""

    def insert_payments(self, job_id: uuid.UUID, *, created_by: int | None) -> int:
        """Record the new payments, in file order; returns how many."""

    def apply_to_cases(self, job_id: uuid.UUID, *, by: int | None, kept_percent: Decimal) -> int:
        """Apply the recorded payments to their cases and open promises; returns the cases paid off."""

    def keep_errors(self, job_id: uuid.UUID) -> None:
        """Keep every problem of every rejected row as a row error of the job."""

    def duplicate_count(self) -> int:
        """Rows that were payments already recorded."""


class DialerLogStore(Protocol):
    """A dialer's log, set-based (store/dialer_logs.py), in the job's transaction."""

    def staging(self) -> AbstractContextManager[None]:
        """The file's staging area, filled by `stage` inside the block."""

    def stage(self, rows: list[tuple]) -> None:
        """Stage a batch of checked rows: (line, case_id, channel, direction, outcome, at, note,
        right_party, problem fields, problem messages), the problems None for a valid row."""

    def lock_cases(self) -> int:
        """Match the valid rows' case_ids to cases and lock those, in id order; returns how many."""

    def set_policies(self, policy_for: Callable[[str], ContactPolicy]) -> builtins.list[str]:
        """Give each locked case its bank's policy (`policy_for(bank_code)`); returns the time zones
        of those cases (or of their banks' defaults) that the database does not know."""

    def record(self, *, lookback: timedelta, job_id: uuid.UUID, created_by: int | None) -> RecordedLog:
        """Record the valid rows of the locked cases that are no duplicates (of a stored contact or
        an earlier line) as reported contacts, each outbound one with the rules of its case's policy
        it broke (`contact_policy.violations`, judged with the stored contacts from `lookback` before
        the case's first row and the holds active at its `at`)."""

    def place_holds(self, holds: Sequence[tuple], *, by: int | None) -> int:
        """Place each (case_pk, hold type, scope, reason) in order, unless one of that type and scope
        is active already; returns how many were placed."""

    def keep_errors(self, job_id: uuid.UUID, *, unknown_case: str) -> None:
        """Keep every problem of every rejected row (and each row of an unknown case_id) as a row
        error of the job."""


class ContactStore(Protocol):
    """The contact log (store/contacts.py)."""

    def add(self, case: Case, contact: NewContact, *, at: datetime, violations: Sequence[Reason], reported: bool,
            by: int | None) -> Contact | None:
        """Record the contact at `at`; None (nothing written) when the same one (case, at, channel,
        direction, outcome) is recorded already."""

    def find(self, case_pk: int, contact: NewContact, *, at: datetime) -> Contact | None:
        """The recorded contact of the case with that instant, channel, direction and outcome."""

    def now(self) -> datetime:
        """The database's clock at this instant (not the transaction's start)."""

    def gate_inputs(self, case: Case, *, since: datetime, until: datetime) -> tuple[builtins.list[PastContact],
                                                                                  builtins.list[ActiveHold]]:
        """What the policy gate reads: the case's contacts with `since` ≤ at ≤ `until`, and the holds
        on the case or its borrower active at `until`."""

    def list(self, case_pk: int, *, after: tuple[datetime, int] | None, limit: int) -> builtins.list[Contact]:
        """The case's contacts by (at, id), after the keyset `after`."""


class HoldStore(Protocol):
    """Holds on cases and borrowers (store/holds.py)."""

    def add(self, case: Case, *, hold_type: HoldType, scope: HoldScope, reason: str, until: date | None,
            by: int | None) -> Hold | None:
        """Place a hold; None (nothing written) when one of that type and scope is active already."""

    def get(self, hold_id: int) -> Hold | None:
        """The hold; None when there is none."""

    def lift(self, hold_id: int, *, by: int | None, reason: str) -> Hold | None:
        """Lift the hold now; None (nothing written) when it was lifted already."""

    def covering(self, case: Case) -> builtins.list[Hold]:
        """The active holds on the case or its borrower."""

    def list(self, case: Case, *, active: bool | None, after_id: int | None, limit: int) -> builtins.list[Hold]:
        """The holds on the case or its borrower in id order, after `after_id`; only the active
        (or only the lifted) ones when `active` is given."""

    def lift_ended_pauses(self, as_of: date) -> int:
        """Lift every active pause whose `until` is before `as_of`; how many."""


class ContactPolicyStore(Protocol):
    """The contact policy's settings (store/contact_policy.py)."""

    def get(self) -> dict | None:
        """The stored settings document; None when none was ever set."""

    def put(self, document: dict, *, by: int | None) -> None:
        """Store the settings document in place of the last one."""

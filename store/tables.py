"""The schema, as SQLAlchemy Core tables. Migrations (Alembic) create it; this mirrors them."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from domain.case_queries import SORT_FIELDS
from domain.contact_policy import Channel, Direction, HoldType, Outcome
from domain.holds import HoldScope
from domain.jobs import JobState, JobType
from domain.payments import PaymentMethod
from domain.promises import PromiseStatus
from store.name_words import NAME_WORDS

metadata = MetaData()

# the listing's sort fields, each with its index under a status and under an assignee (0006)

Money = Numeric(14, 2)

# PostgreSQL enums sort in declaration order: ORDER BY priority DESC puts Critical first.
user_role = Enum("admin", "call_center_agent", "field_agent", "legal_team", name="user_role")
team = Enum("call_center", "field", "legal", name="team")
case_status = Enum("Pending", "In Progress", "Resolved", "Escalated", name="case_status")
case_priority = Enum("Low", "Medium", "High", "Critical", name="case_priority")
job_type = Enum(*(t.value for t in JobType), name="job_type")
job_state = Enum(*(s.value for s in JobState), name="job_state")
UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)
payment_method = Enum(*(m.value for m in PaymentMethod), name="payment_method")
promise_status = Enum(*(s.value for s in PromiseStatus), name="promise_status")
contact_channel = Enum(*(c.value for c in Channel), name="contact_channel")
contact_direction = Enum(*(d.value for d in Direction), name="contact_direction")
contact_outcome = Enum(*(o.value for o in Outcome), name="contact_outcome")
hold_type = Enum(*(t.value for t in HoldType), name="hold_type")
hold_scope = Enum(*(s.value for s in HoldScope), name="hold_scope")


def _now():
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


users = Table(
    "users",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", user_role, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("users_email_key", func.lower(text("email")), unique=True),
    Index("users_role_active_idx", "role", "active"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("type", job_type, nullable=False),
    Column("state", job_state, nullable=False, server_default=JobState.QUEUED.value),
    Column("progress_done", BigInteger, nullable=False, server_default="0"),
    Column("progress_total", BigInteger),
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("result", JSONB),
    Column("error", JSONB),
    Column("created_by", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    Column("idempotency_key", Text),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("cancel_requested", Boolean, nullable=False, server_default=text("false")),
    _now(),
    Column("enqueued_at", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index(
        "jobs_idempotency_key",
        "created_by",
        "idempotency_key",
        unique=True,
        # beat's jobs have no creator: NULLS NOT DISTINCT makes one slot one job even then
        postgresql_nulls_not_distinct=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    Index("jobs_created_by_created_at_idx", "created_by", text("created_at DESC"), text("id DESC")),
    Index("jobs_created_at_idx", text("created_at DESC"), text("id DESC")),
    Index("jobs_unfinished_idx", "state", postgresql_where=text("state IN ('queued', 'running')")),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("job_id", UUID(as_uuid=True), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("filename", Text),
    Column("media_type", Text, nullable=False),  # csv | json | ndjson
    Column("size_bytes", BigInteger, nullable=False, server_default="0"),
    Column("chunks", Integer, nullable=False, server_default="0"),
    _now(),
)

upload_chunks = Table(
    "upload_chunks",
    metadata,
    Column("upload_id", BigInteger, ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# An ingest job's bulk rows carry its id without a foreign key: a million rows, written by the
# job's own transaction, would each run a key check of that one job (jobs are never deleted).
cases_raw = Table(
    "cases_raw",
    metadata,
    Column("job_id", UUID(as_uuid=True), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("case_id", Text),
    Column("record", Text, nullable=False),  # the row as received: a CSV record's text, a JSON element's text
    Column("accepted", Boolean, nullable=False),
)

ingest_errors = Table(
    "ingest_errors",
    metadata,
    Column("job_id", UUID(as_uuid=True), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("case_id", Text),
    Column("field", Text, nullable=False),
    Column("message", Text, nullable=False),
    Index("ingest_errors_job_line_idx", "job_id", "line_no"),
)

cases_processed = Table(
    "cases_processed",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_id", Text, nullable=False),
    Column("bank_code", Text, nullable=False),
    Column("borrower_name", Text, nullable=False),
    Column("loan_amount", Money, nullable=False),
    Column("due_amount", Money, nullable=False),
    Column("days_past_due", Integer, nullable=False),
    Column("priority", case_priority, nullable=False),
    Column("region", Text, nullable=False),
    Column("team", team, nullable=False),
    Column("status", case_status, nullable=False, server_default="Pending"),
    Column("assigned_to", BigInteger, ForeignKey("users.id")),
    Column("amount_recovered", Money),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("last_job_id", UUID(as_uuid=True)),
    _now(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True)),
    Column("borrower_ref", Text),  # the bank's customer id: one person's cases share bank_code + borrower_ref
    Column("timezone", Text),  # IANA name; null: the contact policy's default
    # the case was resolved by the payment that paid it in full (a reversal reopens it)
    Column("resolved_by_payment", Boolean, nullable=False, server_default=text("false")),
    # the status of the case's latest promise (null: none yet), written with every promise change
    # (store/promises.py): the listing's `promise` filter reads it from cases_promise_<sort>_idx
    Column("latest_promise", promise_status),
    # an active hold covers the case or its borrower, written wherever a hold is placed or lifted
    # and by ingestion (store/holds.py, refresh_on_hold): `on_hold` of the case and of the listing
    Column("on_hold", Boolean, nullable=False, server_default=text("false")),
    # the assignment run's queue: open, unassigned cases
    Index("cases_unassigned_idx", "team", "id", postgresql_where=text("assigned_to IS NULL AND status <> 'Resolved'")),
    # the listing's two families, one index per sort (0010, docs/cases.md): a page of a status, or
    # of an assignee (an agent's own queue; the unassigned cases are the NULL part), read in order
    *(Index(f"cases_{lead}_{field}_idx", column, *([] if field == "id" else [field]), "id")
      for lead, column in (("status", "status"), ("assignee", "assigned_to")) for field in SORT_FIELDS),
    # a team by DPD (DPD decides the team)
    Index("cases_status_team_dpd_idx", "status", "team", "days_past_due", "id"),
    # a priority by amount (priority follows the amount: Critical cases are the large ones) (0011)
    Index("cases_status_priority_due_amount_idx", "status", "priority", "due_amount", "id"),
    # the cases with a promise and the held cases, per sort (0011): partial, so a case with neither
    # (most of them: every new one) writes no entry
    *(Index(f"cases_promise_{field}_idx", "latest_promise", *([] if field == "id" else [field]), "id",
            postgresql_where=text("latest_promise IS NOT NULL")) for field in SORT_FIELDS),
    *(Index(f"cases_held_{field}_idx", *([] if field == "id" else [field]), "id", postgresql_where=text("on_hold"))
      for field in SORT_FIELDS),
    # unique, and a case_id prefix (`q`) as an index range under any collation (0008)
    Index("cases_processed_case_id_key", "case_id", unique=True, postgresql_ops={"case_id": "text_pattern_ops"}),
    # the borrower's name as words (0008, docs/cases.md)
    Index("cases_borrower_words_idx", text(NAME_WORDS), postgresql_using="gin"),
    # a borrower's cases: the borrower_ref filter, and the cases a borrower hold covers (0008)
    Index("cases_borrower_ref_idx", "borrower_ref", "bank_code", postgresql_where=text("borrower_ref IS NOT NULL")),
)

case_assignments = Table(
    "case_assignments",
    metadata,
    # keyed by case (the history reads a case's rows by it), then by insertion
    Column("case_pk", BigInteger, primary_key=True),
    Column("id", BigInteger, Identity(), primary_key=True),
    # No foreign keys (and none to cases in the history): a run writes a million of these rows, from
    # the RETURNING of the UPDATE of their case, which checks the agent's key itself; the actor is
    # the job's creator or the admin asking. A key check is a trigger call per row, and for the
    # case a second row lock, one WAL record each (docs/assignment.md measures them).
    Column("assigned_to", BigInteger, nullable=False),
    Column("assigned_by", BigInteger),
    Column("job_id", UUID(as_uuid=True)),
    Column("assigned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # the case's status before and after it was assigned: the history shows a move when they differ
    Column("status_from", case_status),
    Column("status_to", case_status),
    Column("released_at", DateTime(timezone=True)),
    Column("released_by", BigInteger),
    Column("release_reason", Text),
    # at most one active assignment per case, whatever runs concurrently
    Index("case_assignments_active_key", "case_pk", unique=True, postgresql_where=text("released_at IS NULL")),
)

# A case's history is its status moves (here) and its assignments (case_assignments: each one's
# start, the status move it made, and its end), merged in time order by CaseStore.history.
case_status_history = Table(
    "case_status_history",
    metadata,
    Column("case_pk", BigInteger, primary_key=True),
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("by", BigInteger, ForeignKey("users.id")),
    Column("from_value", case_status),
    Column("to_value", case_status),
    Column("comment", Text),
    Column("job_id", UUID(as_uuid=True)),
)

assignment_bands = Table(
    "assignment_bands",
    metadata,
    Column("position", SmallInteger, primary_key=True),
    Column("team", team, nullable=False),
    Column("max_dpd", Integer),  # null: unbounded (the last band)
)

team_rotation = Table(
    "team_rotation",
    metadata,
    Column("team", team, primary_key=True),
    Column("last_agent_id", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

analytics_snapshots = Table(
    "analytics_snapshots",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("as_of", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("job_id", UUID(as_uuid=True)),
    Column("summary", JSONB, nullable=False),
    Index("analytics_snapshots_as_of_idx", text("as_of DESC")),
)

# The ledger. No foreign keys: the bank's daily file writes a million rows in one statement, and
# the case each row pays is found (and locked) by that statement itself; a key check would be a
# trigger call and a second lookup per row (see case_assignments).
payments = Table(
    "payments",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_pk", BigInteger, nullable=False),
    Column("bank_code", Text, nullable=False),  # a reference is unique per bank
    Column("reference", Text, nullable=False),
    Column("amount", Money, CheckConstraint("amount > 0", name="payments_amount_positive"), nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("method", payment_method, nullable=False),
    Column("created_by", BigInteger),
    Column("job_id", UUID(as_uuid=True)),  # the payments file that brought it, if any
    _now(),
    Column("reversed_at", DateTime(timezone=True)),
    Column("reversed_by", BigInteger),
    Column("reversal_reason", Text),
    Index("payments_bank_reference_key", "bank_code", "reference", unique=True),
    Index("payments_case_idx", "case_pk", "id"),
    # the summary's payments of the last 30 days: an index-only range scan of the ledger (0005)
    Index("payments_paid_on_idx", "paid_on", postgresql_include=["amount"],
          postgresql_where=text("reversed_at IS NULL")),
)

promises = Table(
    "promises",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_pk", BigInteger, ForeignKey("cases_processed.id"), nullable=False),
    Column("amount", Money, CheckConstraint("amount > 0", name="promises_amount_positive"), nullable=False),
    Column("due_date", Date, nullable=False),
    Column("status", promise_status, nullable=False, server_default=PromiseStatus.OPEN.value),
    Column("paid", Money, nullable=False, server_default="0"),  # what counted toward it, frozen once closed
    Column("created_by", BigInteger, ForeignKey("users.id")),
    _now(),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_by", BigInteger, ForeignKey("users.id")),
    Column("cancel_reason", Text),
    # at most one open promise per case, whatever runs concurrently
    Index("promises_one_open_key", "case_pk", unique=True, postgresql_where=text("status = 'open'")),
    Index("promises_case_idx", "case_pk", "id"),
    # the promises job: open promises by due date
    Index("promises_open_due_idx", "due_date", postgresql_where=text("status = 'open'")),
    # the summary's promises closed in the last 30 days: an index-only range scan (0005)
    Index("promises_closed_idx", "closed_at", postgresql_include=["status"],
          postgresql_where=text("closed_at IS NOT NULL")),
)

# The contact log. No foreign key, as for the ledger: a dialer's log writes a million rows at once.
contacts = Table(
    "contacts",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_pk", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("channel", contact_channel, nullable=False),
    Column("direction", contact_direction, nullable=False),
    Column("outcome", contact_outcome, nullable=False),
    Column("right_party", Boolean, nullable=False),
    Column("policy_violations", ARRAY(Text), nullable=False, server_default=text("'{}'")),  # Reason values
    Column("reported", Boolean, nullable=False),  # a report of a past contact, not one made now
    Column("override_reason", Text),  # an admin's, for a contact made against the policy
    Column("note", Text),
    Column("created_by", BigInteger),
    Column("job_id", UUID(as_uuid=True)),  # the dialer's log that brought it, if any
    _now(),
    # a reported contact is recorded once; the gate reads a case's recent contacts by it
    Index("contacts_identity_key", "case_pk", "at", "channel", "direction", "outcome", unique=True),
    # the summary's contacts of the last 30 days: an index-only range scan
    Index("contacts_at_idx", "at", postgresql_include=["direction", "right_party", "policy_violations"]),
)

# Holds on a case, or on its borrower (every case with the same bank_code + borrower_ref).
holds = Table(
    "holds",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("case_pk", BigInteger, ForeignKey("cases_processed.id"), nullable=False),
    Column("bank_code", Text, nullable=False),
    Column("borrower_ref", Text),  # null: the case is its own person, a borrower hold covers it alone
    Column("scope", hold_scope, nullable=False),
    Column("type", hold_type, nullable=False),
    Column("reason", Text, nullable=False),
    Column("until", Date),  # a pause's last day
    Column("created_by", BigInteger, ForeignKey("users.id")),
    _now(),
    Column("lifted_at", DateTime(timezone=True)),
    Column("lifted_by", BigInteger, ForeignKey("users.id")),
    Column("lift_reason", Text),
    Index("holds_case_idx", "case_pk", "id"),
    Index("holds_borrower_idx", "bank_code", "borrower_ref", "id",
          postgresql_where=text("scope = 'borrower' AND borrower_ref IS NOT NULL")),
    # one active hold per type and scope, whatever runs concurrently
    Index("holds_one_active_case_key", "case_pk", "type", unique=True,
          postgresql_where=text("lifted_at IS NULL AND (scope = 'case' OR borrower_ref IS NULL)")),
    Index("holds_one_active_borrower_key", "bank_code", "borrower_ref", "type", unique=True,
          postgresql_where=text("lifted_at IS NULL AND scope = 'borrower' AND borrower_ref IS NOT NULL")),
    # the summary's holds placed in the last 30 days
    Index("holds_created_idx", "created_at", postgresql_include=["type"]),
)

# The contact policy's settings (domain.contact_settings): one row, none until an admin sets one.
contact_policy = Table(
    "contact_policy",
    metadata,
    Column("id", SmallInteger, CheckConstraint("id = 1", name="contact_policy_one_row"), primary_key=True),
    Column("settings", JSONB, nullable=False),
    Column("updated_by", BigInteger, ForeignKey("users.id", ondelete="SET NULL")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

"""A dialer's log, set-based: staged rows matched to their cases (locked), judged against the contact
policy in SQL together with the stored contacts of those cases, recorded, holds placed, problems kept.

Everything runs on the unit of work's connection, in the job's transaction, over temp tables
dropped at commit, each ANALYZEd once filled:
  dialer_staging  every row of the file as checked in Python (problems included), COPYed in batches
  dialer_cases    the file's known cases, locked, with what the policy needs (bank, borrower, zone,
                  the bank's policy) and the span of the file's rows for each (first_at, last_at)
  dialer_holds    the holds on those cases or their borrowers active at some time of their rows

The rows are judged and recorded by store/dialer_rules.py: the gate of
`domain.contact_policy.violations` applied to a whole file at once, in one statement.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Connection, text

from domain.contact_policy import ContactPolicy
from domain.contacts import RecordedLog
from store import dialer_rules
from store.dialer_rules import STAGING
from store.holds import cases_covered_by, refresh_on_hold

# the checked values, COPYed in binary (a third of text's cost in Python); channel, direction and
# outcome as text, made the enums in SQL (psycopg has no binary dumper for an enum it has not loaded)
_STAGED = ("line_no int NOT NULL, case_id text, channel text, direction text, outcome text, at timestamptz, "
           "note text, right_party bool, error_fields text[], error_messages text[]")
_STAGED_TYPES = ("int4", "text", "text", "text", "text", "timestamptz", "text", "bool", "text[]", "text[]")
_WORK_MEM = "256MB"  # the hashes and sorts of a million-row file stay in memory

# ORDER BY id: every writer of many cases locks them in that order, so none waits for another in a cycle
_LOCK = f"""
    CREATE TEMP TABLE dialer_cases ON COMMIT DROP AS
    WITH spans AS (
        SELECT case_id, min(at) AS first_at, max(at) AS last_at, count(*) AS rows
          FROM {STAGING} WHERE error_fields IS NULL GROUP BY case_id
    )
    SELECT c.id AS case_pk, c.case_id, c.bank_code, c.borrower_ref, nullif(c.timezone, '') AS timezone,
           s.first_at, s.last_at, s.rows,
           NULL::text AS zone, NULL::time AS window_start, NULL::time AS window_end, NULL::int AS calls_limit,
           NULL::int AS days_after, false AS held
      FROM spans s JOIN cases_processed c ON c.case_id = s.case_id
     ORDER BY c.id
       FOR UPDATE OF c
"""

_PLACE_HOLDS = """
    INSERT INTO holds (case_pk, bank_code, borrower_ref, scope, type, reason, created_by, created_at)
    SELECT c.id, c.bank_code, c.borrower_ref, CAST(h.scope AS hold_scope), CAST(h.type AS hold_type), h.reason,
           :by, statement_timestamp()
      FROM unnest(CAST(:case_pks AS bigint[]), CAST(:types AS text[]), CAST(:scopes AS text[]),
                  CAST(:reasons AS text[])) WITH ORDINALITY AS h(case_pk, type, scope, reason, n)
      JOIN cases_processed c ON c.id = h.case_pk
     ORDER BY h.n
        ON CONFLICT DO NOTHING  -- either key: an active hold of that type covers the case or borrower
    RETURNING case_pk, scope::text, bank_code, borrower_ref
"""

_ERRORS = f"""
    INSERT INTO ingest_errors (job_id, line_no, case_id, field, message)
    SELECT :job_id, s.line_no, s.case_id, e.field, e.message
      FROM {STAGING} s, unnest(s.error_fields, s.error_messages) AS e(field, message)
     WHERE s.error_fields IS NOT NULL
    UNION ALL
    SELECT :job_id, s.line_no, s.case_id, 'case_id', :unknown_case
      FROM {STAGING} s
     WHERE s.error_fields IS NULL AND NOT EXISTS (SELECT FROM dialer_cases d WHERE d.case_id = s.case_id)
"""


class DialerLogStore:
    def __init__(self, conn: Connection):
        self.conn = conn
        self._cursor = None

    @property
    def _driver(self):
        return self.conn.connection.driver_connection  # COPY is psycopg's, in the same transaction

    @contextmanager
    def staging(self) -> Iterator[None]:
        """The file's staging table (dropped at commit), filled by `stage` inside the block."""
        self.conn.exec_driver_sql(f"SET LOCAL work_mem = '{_WORK_MEM}'")
        # a million-row statement looks costly enough to JIT-compile: 0.7 s of compiling, no gain
        self.conn.exec_driver_sql("SET LOCAL jit = off")
        self.conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGING} ({_STAGED}) ON COMMIT DROP")
        self._cursor = self._driver.cursor()
        try:
            yield
        finally:
            self._cursor.close()
            self._cursor = None
        self.conn.exec_driver_sql(f"ANALYZE {STAGING}")

    def stage(self, rows: list[tuple]) -> None:
        """COPY a batch of checked rows (the columns of dialer_staging, in order)."""
        with self._cursor.copy(f"COPY {STAGING} FROM STDIN (FORMAT binary)") as copy:
            copy.set_types(_STAGED_TYPES)
            for row in rows:
                copy.write_row(row)

    def lock_cases(self) -> int:
        """Match the valid rows to their cases and lock those, in id order; returns how many."""
        locked = self.conn.execute(text(_LOCK)).rowcount
        self.conn.exec_driver_sql("ANALYZE dialer_cases")
        return locked

    def set_policies(self, policy_for: Callable[[str], ContactPolicy]) -> list[str]:
        """Give each locked case its bank's policy; returns the zones PostgreSQL does not know."""
        return dialer_rules.set_policies(self.conn, policy_for)

    def record(self, *, lookback: timedelta, job_id: uuid.UUID, created_by: int | None) -> RecordedLog:
        """Judge the valid rows of the locked cases by their policies, with the stored contacts from
        `lookback` before each case's first row, and insert those that are no duplicates."""
        return dialer_rules.record(self.conn, lookback=lookback, job_id=job_id, created_by=created_by)

    def place_holds(self, holds: Sequence[tuple], *, by: int | None) -> int:
        """Place the holds in order, unless one of that type and scope is active; returns how many."""
        if not holds:
            return 0
        case_pks, types, scopes, reasons = zip(*holds)
        placed = self.conn.execute(text(_PLACE_HOLDS), {
            "case_pks": list(case_pks), "types": [t.value for t in types], "scopes": [s.value for s in scopes],
            "reasons": list(reasons), "by": by}).all()
        if placed:
            refresh_on_hold(self.conn, cases_covered_by(placed))
        return len(placed)

    def keep_errors(self, job_id: uuid.UUID, *, unknown_case: str) -> None:
        """One ingest_errors row per problem of every rejected row, and per row of an unknown case."""
        self.conn.execute(text(_ERRORS), {"job_id": job_id, "unknown_case": unknown_case})

"""The bank's payments file, set-based: staged rows matched to cases and the ledger, checked
against the balances in file order, recorded and applied (store.ledger), their problems kept.

Everything runs on the unit of work's connection, in the job's transaction, over temp tables
dropped at commit, each ANALYZEd once filled so that a small file into a big book is planned
with index lookups rather than hashes of whole tables:
  payfile_staging  every row of the file as checked in Python (problems included), COPYed in batches
  payfile_rows     the valid rows, with their case and what became of them: `outcome` NULL (a new
                   payment), 'duplicate' or 'rejected' (then `error_field`, `error_message`)
  payfile_cases    the cases the new payments pay, locked, with their balance and this file's total
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from itertools import groupby
from operator import attrgetter

from sqlalchemy import Connection, text

from domain.payments import payments_that_fit
from store.ledger import apply_ledger

STAGING = "payfile_staging"
_STAGED = ("line_no int NOT NULL, case_id text, amount numeric(14,2), paid_on date, reference text, "
           "method payment_method, error_fields text[], error_messages text[]")
_WORK_MEM = "256MB"  # the hashes and sorts of a million-row file stay in memory

_MATCH = f"""
    CREATE TEMP TABLE payfile_rows ON COMMIT DROP AS
    SELECT s.line_no, s.case_id, s.amount, s.paid_on, s.reference, s.method, c.id AS case_pk, c.bank_code,
           CASE WHEN c.id IS NULL OR p.case_pk <> c.id OR p.amount <> s.amount THEN 'rejected'
                WHEN p.case_pk IS NOT NULL THEN 'duplicate' END AS outcome,
           CASE WHEN c.id IS NULL THEN 'case_id'
                WHEN p.case_pk <> c.id OR p.amount <> s.amount THEN 'reference' END AS error_field,
           CASE WHEN c.id IS NULL THEN CAST(:unknown_case AS text)
                WHEN p.case_pk <> c.id OR p.amount <> s.amount THEN CAST(:conflict AS text) END AS error_message
      FROM {STAGING} s
      LEFT JOIN cases_processed c ON c.case_id = s.case_id
      LEFT JOIN payments p ON p.bank_code = c.bank_code AND p.reference = s.reference
     WHERE s.error_fields IS NULL
"""

# A reference is unique per bank: its later rows in the file are rejected, whatever became of the first.
_REPEATED = """
    WITH firsts AS (
        SELECT bank_code, reference, min(line_no) AS first_line
          FROM payfile_rows WHERE case_pk IS NOT NULL
         GROUP BY bank_code, reference HAVING count(*) > 1
    )
    UPDATE payfile_rows r
       SET outcome = 'rejected', error_field = 'reference',
           error_message = replace(:repeated, '{line}', f.first_line::text)
      FROM firsts f
     WHERE r.bank_code = f.bank_code AND r.reference = f.reference AND r.line_no > f.first_line
"""

# ORDER BY id: every writer of many cases locks them in that order, so none waits for another in a cycle.
_LOCK = """
    CREATE TEMP TABLE payfile_cases ON COMMIT DROP AS
    WITH paid AS (
        SELECT case_pk, sum(amount) AS total FROM payfile_rows WHERE outcome IS NULL GROUP BY case_pk
    )
    SELECT c.id AS case_pk, c.due_amount - coalesce(c.amount_recovered, 0) AS balance, p.total
      FROM cases_processed c JOIN paid p ON p.case_pk = c.id
     ORDER BY c.id
       FOR UPDATE OF c
"""

# The rows of the cases this file overpays (its new payments to them add up past the balance),
# in file order: few, walked in Python by domain.payments.payments_that_fit.
_OVERPAID = """
    SELECT r.case_pk, b.balance, r.line_no, r.amount
      FROM payfile_rows r JOIN payfile_cases b ON b.case_pk = r.case_pk
     WHERE b.total > b.balance AND r.outcome IS NULL
     ORDER BY r.case_pk, r.line_no
"""
_REJECT_OVERPAID = """
    WITH rejected AS (
        UPDATE payfile_rows r
           SET outcome = 'rejected', error_field = 'amount', error_message = o.message
          FROM payfile_overpaid o
         WHERE r.line_no = o.line_no
        RETURNING r.case_pk, r.amount
    ), less AS (
        UPDATE payfile_cases c SET total = c.total - x.amount
          FROM (SELECT case_pk, sum(amount) AS amount FROM rejected GROUP BY case_pk) x
         WHERE c.case_pk = x.case_pk
    )
    SELECT count(*) FROM rejected
"""

_INSERT = """
    INSERT INTO payments (case_pk, bank_code, reference, amount, paid_on, method, created_by, job_id, created_at)
    SELECT case_pk, bank_code, reference, amount, paid_on, method, :created_by, :job_id,
           statement_timestamp()  -- recorded now, with the cases locked: after any promise taken before the lock
      FROM payfile_rows WHERE outcome IS NULL
     ORDER BY line_no
"""

_ERRORS = f"""
    INSERT INTO ingest_errors (job_id, line_no, case_id, field, message)
    SELECT :job_id, s.line_no, s.case_id, e.field, e.message
      FROM {STAGING} s, unnest(s.error_fields, s.error_messages) AS e(field, message)
     WHERE s.error_fields IS NOT NULL
    UNION ALL
    SELECT :job_id, line_no, case_id, error_field, error_message FROM payfile_rows WHERE error_field IS NOT NULL
"""


class PaymentFileStore:
    def __init__(self, conn: Connection):
        self.conn = conn
        self._cursor = None

    @contextmanager
    def staging(self) -> Iterator[None]:
        """The file's staging table (dropped at commit), filled by `stage` inside the block."""
        self.conn.exec_driver_sql(f"SET LOCAL work_mem = '{_WORK_MEM}'")
        self.conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGING} ({_STAGED}) ON COMMIT DROP")
        self._cursor = self.conn.connection.driver_connection.cursor()  # COPY is psycopg's, same transaction
        try:
            yield
        finally:
            self._cursor.close()
            self._cursor = None
        self.conn.exec_driver_sql(f"ANALYZE {STAGING}")

    def stage(self, rows: list[tuple]) -> None:
        """COPY a batch of checked rows (the columns of payfile_staging, in order)."""
        with self._cursor.copy(f"COPY {STAGING} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def match_rows(self, *, unknown_case: str, conflict: str, repeated: str) -> int:
        """Match the valid rows to their cases and the payments recorded; returns how many are new."""
        self.conn.execute(text(_MATCH), {"unknown_case": unknown_case, "conflict": conflict})
        self.conn.exec_driver_sql("ANALYZE payfile_rows")
        self.conn.execute(text(_REPEATED), {"repeated": repeated})
        return self.conn.execute(text("SELECT count(*) FROM payfile_rows WHERE outcome IS NULL")).scalar_one()

    def lock_cases(self) -> int:
        """Lock the cases the new payments pay, in id order, with their balances; returns how many."""
        locked = self.conn.execute(text(_LOCK)).rowcount
        self.conn.exec_driver_sql("ANALYZE payfile_cases")
        return locked

    def reject_overpayments(self, message: str) -> int:
        """Reject the new payments that do not fit their case's balance, taken in file order as
        single payments would be (domain.payments.payments_that_fit); returns how many."""
        rejected = []  # (line_no, message), written with COPY
        for _case_pk, rows in groupby(self.conn.execute(text(_OVERPAID)), key=attrgetter("case_pk")):
            rows = list(rows)
            left = rows[0].balance
            for row, fits in zip(rows, payments_that_fit(left, [r.amount for r in rows])):
                if fits:
                    left -= row.amount
                else:
                    rejected.append((row.line_no, message.replace("{balance}", str(left))))
        if not rejected:
            return 0
        self.conn.exec_driver_sql("CREATE TEMP TABLE payfile_overpaid (line_no int PRIMARY KEY, message text) "
                                  "ON COMMIT DROP")
        with self.conn.connection.driver_connection.cursor() as cursor, \
                cursor.copy("COPY payfile_overpaid FROM STDIN") as copy:
            for row in rejected:
                copy.write_row(row)
        return self.conn.execute(text(_REJECT_OVERPAID)).scalar_one()

    def insert_payments(self, job_id: uuid.UUID, *, created_by: int | None) -> int:
        """Record the new payments in file order; returns how many."""
        return self.conn.execute(text(_INSERT), {"job_id": job_id, "created_by": created_by}).rowcount

    def apply_to_cases(self, job_id: uuid.UUID, *, by: int | None, kept_percent: Decimal) -> int:
        """Apply the recorded payments (each case's total) to cases and promises; returns the cases paid off."""
        outcome = apply_ledger(self.conn, "SELECT case_pk, total AS delta FROM payfile_cases WHERE total > 0", {},
                               by=by, job_id=job_id, kept_percent=kept_percent)
        return outcome.paid_off

    def keep_errors(self, job_id: uuid.UUID) -> None:
        """One ingest_errors row per problem of every rejected row."""
        self.conn.execute(text(_ERRORS), {"job_id": job_id})

    def duplicate_count(self) -> int:
        """Rows that were payments already recorded."""
        return self.conn.execute(text("SELECT count(*) FROM payfile_rows WHERE outcome = 'duplicate'")).scalar_one()

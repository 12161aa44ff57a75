"""The bulk SQL of ingestion: set-based statements over the job's staging table (staging.py).

Everything runs on the unit of work's connection, in its transaction: the job's rows, errors,
raw records and case changes commit together with its `succeeded` state, or not at all.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import ARRAY, Connection, Text, bindparam, func, literal, select, text

from domain.case_rules import CLEARED, COLUMNS, OPTIONAL_COLUMNS
from store import locks
from store.holds import held_sql
from store.releases import release_cases
from store.staging import STAGING, Stager
from store.tables import ingest_errors

_CASE_COLUMNS = (*COLUMNS, "team")
# An optional column's staged value is NULL when the row did not send it (the stored value stays)
# and CLEARED when it sent it empty (stored as null): decided per row, by the statement itself.
_STORED = {c: f"nullif(s.{c}, '{CLEARED}')" for c in OPTIONAL_COLUMNS}
_REFRESHED = {**{c: f"s.{c}" for c in _CASE_COLUMNS[1:]},  # what a refresh may change, to what
              **{c: f"CASE WHEN s.{c} IS NULL THEN p.{c} ELSE {_STORED[c]} END" for c in OPTIONAL_COLUMNS}}
_CHANGED = (f"({', '.join(f'p.{c}' for c in _REFRESHED)}) "
            f"IS DISTINCT FROM ({', '.join(_REFRESHED.values())})")
# A case whose borrower changes (bank_code, borrower_ref) may come under, or leave, its borrower's
# hold; a new case of a held borrower is held from the start (store/holds.py, refresh_on_hold).
_BANK, _REF = _REFRESHED["bank_code"], _REFRESHED["borrower_ref"]
_ON_HOLD = (f"CASE WHEN ({_BANK}, {_REF}) IS NOT DISTINCT FROM (p.bank_code, p.borrower_ref) THEN p.on_hold "
            f"ELSE {held_sql(case_pk='p.id', bank_code=_BANK, borrower_ref=_REF)} END")
_SET_CHANGED = ", ".join(f"{c} = {value}" for c, value in {**_REFRESHED, "on_hold": _ON_HOLD}.items())
_INSERTED = {**{c: f"s.{c}" for c in _CASE_COLUMNS}, **_STORED,
             "on_hold": held_sql(case_pk=None, bank_code="s.bank_code", borrower_ref=_STORED["borrower_ref"])}
# A file of fewer accepted rows than the book's cases / LOOKUP_RATIO finds its cases by the case_id
# index, one lookup a row; a bigger one lets PostgreSQL hash or merge the whole table. Without the
# choice, the planner hashed 1M stored cases for a 10,000-row file (≈ 0.3-0.8 s a statement): its
# costs put a seq scan of the table below 10,000 random index probes (docs/ingestion.md, plans).
LOOKUP_RATIO = 10


class IngestStore:
    def __init__(self, conn: Connection):
        self.conn = conn
        self._by_lookups = False

    @contextmanager
    def staging(self, job_id: uuid.UUID) -> Iterator[Stager]:
        """The job's staging table (dropped at commit) and a loader of batches into it and cases_raw."""
        self.conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")  # the window and joins that follow
        stager = Stager(self.conn, job_id)
        stager.create_tables()
        try:
            yield stager
        finally:
            stager.close()
        self.conn.exec_driver_sql(f"ANALYZE {STAGING}")
        staged, book = self.conn.exec_driver_sql(
            f"SELECT (SELECT count(*) FROM {STAGING} WHERE error_fields IS NULL), "
            "(SELECT reltuples FROM pg_class WHERE oid = 'cases_processed'::regclass)").one()
        self._by_lookups = staged * LOOKUP_RATIO < book

    @contextmanager
    def _joined_to_cases(self) -> Iterator[None]:
        """Around a statement joining the staged rows to `cases_processed`: index lookups for a
        small file (hash and merge joins off), the planner's choice for a big one."""
        if not self._by_lookups:
            yield
            return
        self.conn.exec_driver_sql("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        try:
            yield
        finally:
            self.conn.exec_driver_sql("SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on")

    def reject_duplicates(self, job_id: uuid.UUID, message: str) -> None:
        """Reject each row whose case_id appeared on an earlier line ('{line}' in `message` = that line)."""
        self.conn.execute(text(f"""
            WITH rejected AS (
                UPDATE {STAGING} s
                SET error_fields = array_append(coalesce(s.error_fields, '{{}}'), 'case_id'),
                    error_messages = array_append(coalesce(s.error_messages, '{{}}'),
                                                  replace(:message, '{{line}}', d.first_line::text))
                FROM (SELECT line_no, min(line_no) OVER (PARTITION BY case_id) AS first_line
                      FROM {STAGING} WHERE case_id IS NOT NULL) d
                WHERE s.line_no = d.line_no AND d.line_no > d.first_line
                RETURNING s.line_no
            )
            UPDATE cases_raw r SET accepted = false
            FROM rejected WHERE r.job_id = :job_id AND r.line_no = rejected.line_no
        """), {"job_id": job_id, "message": message})

    def keep_errors(self, job_id: uuid.UUID) -> None:
        """One ingest_errors row per problem of every rejected row."""
        self.conn.execute(text(f"""
            INSERT INTO ingest_errors (job_id, line_no, case_id, field, message)
            SELECT :job_id, s.line_no, s.case_id, e.field, e.message
            FROM {STAGING} s, unnest(s.error_fields, s.error_messages) AS e(field, message)
            WHERE s.error_fields IS NOT NULL
        """), {"job_id": job_id})

    def rejected_count(self) -> int:
        """Staged rows that were rejected."""
        return self.conn.execute(text(f"SELECT count(*) FROM {STAGING} WHERE error_fields IS NOT NULL")).scalar_one()

    def match_cases(self) -> int:
        """Find the stored case of each accepted row, once: `ingest_known` holds those rows with the
        case's id and whether the file moves it to another team. Returns how many.

        Run after `serialize_writers`: no other file changes a team or inserts a case until commit.
        The steps that follow reach the stored cases by their id from this table, so a small file
        makes one pass of case_id lookups, not one per step.
        """
        with self._joined_to_cases():
            count = self.conn.execute(text(f"""
                CREATE TEMP TABLE ingest_known ON COMMIT DROP AS
                SELECT s.line_no, p.id, p.team <> s.team AS moving, {", ".join(f"s.{c}" for c in _CASE_COLUMNS[1:])},
                       {", ".join(f"s.{c}" for c in OPTIONAL_COLUMNS)}
                FROM {STAGING} s JOIN cases_processed p ON p.case_id = s.case_id
                WHERE s.error_fields IS NULL
            """)).rowcount
        self.conn.exec_driver_sql("ANALYZE ingest_known")
        return count

    def lock_moving_cases(self) -> int:
        """Lock the stored cases this file routes to another team (found by `match_cases`); returns how many.

        Held until commit, so no assignment run hands one of them out in the meantime.
        """
        with self._joined_to_cases():
            return self.conn.execute(text("""
                SELECT count(*) FROM (
                    SELECT 1 FROM ingest_known k JOIN cases_processed p ON p.id = k.id
                    WHERE k.moving ORDER BY p.id FOR UPDATE OF p) moving
            """)).scalar_one()

    def release_moving_cases(self, job_id: uuid.UUID, *, open_statuses: list[str], reason: str) -> int:
        """Release the open, assigned cases that move team (locked by `lock_moving_cases`).

        `reason` is the history comment, '{team}' standing for the new team. Returns how many.
        Their version moves once, when `refresh_cases` writes the new team.
        """
        with self._joined_to_cases():
            return release_cases(self.conn, """
            SELECT p.id, p.status AS status_before,
                   replace(:reason, '{team}', k.team::text) AS reason
            FROM ingest_known k JOIN cases_processed p ON p.id = k.id
            WHERE k.moving AND p.assigned_to IS NOT NULL AND p.status = ANY(CAST(:open AS case_status[]))
        """, {"open": open_statuses, "reason": reason}, by=None, job_id=job_id, touch=False)

    def serialize_writers(self) -> None:
        """Wait for other ingest jobs writing cases; held until this transaction ends.

        Only ingestion inserts cases: with writers taking turns, no other file inserts a case
        between this job's refresh and its insert.
        """
        self.conn.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"),
                          dict(zip(("ns", "key"), locks.INGEST_WRITERS)))

    def refresh_cases(self, job_id: uuid.UUID) -> int:
        """Update the stored cases whose values changed (status and assignment kept); returns how many.

        Rows equal to the stored case are left alone: re-uploading a file rewrites nothing. An
        optional column the row did not send keeps its stored value.
        """
        with self._joined_to_cases():
            return self.conn.execute(text(f"""
            UPDATE cases_processed p
            SET {_SET_CHANGED}, version = p.version + 1, updated_at = statement_timestamp(), last_job_id = :job_id
            FROM ingest_known s
            WHERE p.id = s.id AND {_CHANGED}
        """), {"job_id": job_id}).rowcount

    def insert_cases(self, job_id: uuid.UUID) -> int:
        """Insert the accepted rows whose case_id is new (not in `ingest_known`); returns how many.

        An anti-join against the table being inserted into can be planned as a nested loop over a
        table thought empty, re-reading the growing table for every row: the known rows were found
        by `match_cases` instead. A plain INSERT is safe here, writers take turns
        (`serialize_writers`), and it costs a quarter less than INSERT ... ON CONFLICT.
        """
        return self.conn.execute(text(f"""
            INSERT INTO cases_processed ({", ".join(_INSERTED)}, last_job_id)
            SELECT {", ".join(_INSERTED.values())}, CAST(:job_id AS uuid) FROM {STAGING} s
            WHERE s.error_fields IS NULL AND NOT EXISTS (SELECT 1 FROM ingest_known k WHERE k.line_no = s.line_no)
        """), {"job_id": job_id}).rowcount

    def errors_sample(self, job_id: uuid.UUID, limit: int, field_order: list[str]) -> list[dict]:
        """The first `limit` errors of the job, in file order."""
        rows = self.conn.execute(self._errors_query(field_order).limit(limit), {"job_id": job_id})
        return [dict(line=r.line_no, case_id=r.case_id, field=r.field, message=r.message) for r in rows]

    def iter_errors(self, job_id: uuid.UUID, field_order: list[str], batch: int = 2000) -> Iterator[tuple]:
        """Every error of the job in file order, as (line, case_id, field, message), streamed."""
        query = self._errors_query(field_order).execution_options(yield_per=batch)  # a server-side cursor
        for row in self.conn.execute(query, {"job_id": job_id}):
            yield row.line_no, row.case_id, row.field, row.message

    @staticmethod
    def _errors_query(field_order: list[str]):
        e = ingest_errors
        position = func.array_position(literal(field_order, ARRAY(Text)), e.c.field)
        return (select(e.c.line_no, e.c.case_id, e.c.field, e.c.message)
                .where(e.c.job_id == bindparam("job_id"))
                .order_by(e.c.line_no, position.nulls_first(), e.c.message))

"""The staging of an upload: checked rows arrive in batches and are COPYed in, raw and checked.

Each batch is two COPYs on the job's connection, in its transaction: every row as received into
`cases_raw` (the job, the line number, the text as received: a CSV record's text, the JSON text of
a record; accepted or not), and its checked values into the job's staging table (a temporary table
dropped at commit), on which the set-based work of `IngestStore` then runs. Nothing is written
twice. While PostgreSQL stores a batch, the reader thread prepares the next one.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import Connection

from domain.case_rules import ALL_COLUMNS

STAGING = "ingest_staging"
# the staged columns: the case's (the one list, domain.case_rules.ALL_COLUMNS: an optional one is NULL
# when not sent, '' when sent empty), its team, its problems
_SQL_TYPES = {"line_no": "int NOT NULL", "loan_amount": "numeric(14,2)", "due_amount": "numeric(14,2)",
              "days_past_due": "int", "priority": "case_priority", "team": "team",
              "error_fields": "text[]", "error_messages": "text[]"}
_STAGED = ("line_no", *ALL_COLUMNS, "team", "error_fields", "error_messages")
_NO_CASE = (None,) * (len(ALL_COLUMNS) - 1)  # a rejected row keeps no value but its case_id
_TYPED = ", ".join(f"{c} {_SQL_TYPES.get(c, 'text')}" for c in _STAGED)
_RAW_TYPES = ("uuid", "int4", "text", "text", "bool")
_SURROGATE = re.compile("[\ud800-\udfff]")


class Stager:
    """Builds staging rows (pure: any thread may) and loads them in batches (see `IngestStore.staging`).

    A staging row is a pair: (the checked row, the raw row).
    """

    def __init__(self, conn: Connection, job_id: uuid.UUID):
        self._conn = conn
        self._cursor = conn.connection.driver_connection.cursor()  # COPY is psycopg's, same transaction
        self._job = job_id

    def create_tables(self) -> None:
        """The job's staging table, dropped at commit."""
        self._conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGING} ({_TYPED}) ON COMMIT DROP")

    def accepted(self, line_no: int, case: Sequence, team: str, text: str) -> tuple:
        """The staging row of a valid case: normalized values, team, and its text as received."""
        return (line_no, *case, team, None, None), (self._job, line_no, case[0], storable(text), True)

    def rejected(self, line_no: int, case_id: str | None, problems: Sequence, text: str) -> tuple:
        """The staging row of a rejected row: its problems and its text as received."""
        messages = [storable(p.message) for p in problems]
        return ((line_no, case_id, *_NO_CASE, None, [p.field for p in problems], messages),
                (self._job, line_no, case_id, storable(text), False))

    def add(self, rows: list[tuple]) -> None:
        """Stage a batch: every row raw into cases_raw, its checked values into the staging table."""
        # binary: half the time of text in Python for these columns (no amount or enum among them)
        with self._cursor.copy("COPY cases_raw (job_id, line_no, case_id, record, accepted) FROM STDIN "
                               "(FORMAT binary)") as copy:
            copy.set_types(_RAW_TYPES)
            for _, raw in rows:
                copy.write_row(raw)
        with self._cursor.copy(f"COPY {STAGING} FROM STDIN") as copy:
            for checked, _ in rows:
                copy.write_row(checked)

    def close(self) -> None:
        self._cursor.close()


# ---- values as received, made storable ---------------------------------------------------------
# PostgreSQL text holds neither NUL nor a lone surrogate: in the raw row they become U+FFFD
# (the row rules reject them in case fields).

def storable(value: str) -> str:
    """`value` with NUL and lone surrogates replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value


def storable_values(values) -> list:
    """A row of raw strings (None for a missing field), each made storable."""
    return [None if v is None else storable(v) for v in values]

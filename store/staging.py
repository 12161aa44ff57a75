"""The staging of an upload: checked rows arrive in batches, are COPYed in, and kept raw.

Each batch is COPYed into a small table, from which one statement keeps every row in
`cases_raw` (values as received) and another adds its checked values to the job's staging
table; the set-based work of `IngestStore` then runs on that staging table. While PostgreSQL
works on a batch, the reader thread prepares the next one.
"""
from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Connection, text

from domain.case_rules import ALL_COLUMNS

STAGING = "ingest_staging"
_BATCH = "ingest_batch"
# the staged columns: the case's (the one list, domain.case_rules.ALL_COLUMNS: an optional one is NULL
# when not sent, '' when sent empty), its team, its problems
_SQL_TYPES = {"line_no": "int NOT NULL", "loan_amount": "numeric(14,2)", "due_amount": "numeric(14,2)",
              "days_past_due": "int", "priority": "case_priority", "team": "team",
              "error_fields": "text[]", "error_messages": "text[]"}
_STAGED = ("line_no", *ALL_COLUMNS, "team", "error_fields", "error_messages")
_NO_CASE = (None,) * (len(ALL_COLUMNS) - 1)  # a rejected row keeps no value but its case_id
_TYPED = ", ".join(f"{c} {_SQL_TYPES.get(c, 'text')}" for c in _STAGED)
_TYPED_COLUMNS = ", ".join(_STAGED)
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 64  # deeper JSON is summarized rather than recursed into


class Stager:
    """Builds staging rows (pure: any thread may) and loads them in batches (see `IngestStore.staging`)."""

    def __init__(self, conn: Connection, job_id: uuid.UUID, raw_keys: list[str]):
        self._conn = conn
        self._cursor = conn.connection.driver_connection.cursor()  # COPY is psycopg's, same transaction
        self._no_raw = (None,) * len(raw_keys)
        raw_columns = [f"r{i}" for i in range(len(raw_keys))]
        self._batch_table = (f"CREATE TEMP TABLE {_BATCH} ({_TYPED}, record jsonb"
                             f"{''.join(f', {c} text' for c in raw_columns)}) ON COMMIT DROP")
        raw_values = f"CAST(ARRAY[{', '.join(raw_columns)}] AS text[])"
        self._keep_raw = text(f"""
            INSERT INTO cases_raw (job_id, line_no, case_id, record, accepted)
            SELECT :job_id, line_no, case_id, coalesce(record, jsonb_object(CAST(:keys AS text[]), {raw_values})),
                   error_fields IS NULL
            FROM {_BATCH}""").bindparams(job_id=job_id, keys=[storable(k) for k in raw_keys])
        self._keep_checked = text(f"INSERT INTO {STAGING} SELECT {_TYPED_COLUMNS} FROM {_BATCH}")

    def create_tables(self) -> None:
        """The job's staging table and the batch table, both dropped at commit."""
        self._conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGING} ({_TYPED}) ON COMMIT DROP")
        self._conn.exec_driver_sql(self._batch_table)

    def accepted(self, line_no: int, case: Sequence, team: str, raw_values: list | None = None, record=None) -> tuple:
        """The staging row of a valid case: normalized values, team, and the values as received."""
        if raw_values is not None and "\x00" in "".join(filter(None, raw_values)):
            raw_values = storable_values(raw_values)
        return (line_no, *case, team, None, None, None if record is None else json_text(record),
                *(raw_values if raw_values is not None else self._no_raw))

    def rejected(self, line_no: int, case_id: str | None, problems: Sequence, raw_values: list | None = None,
                 record=None) -> tuple:
        """The staging row of a rejected row: its problems and the values as received."""
        return (line_no, case_id, *_NO_CASE, None,
                [p.field for p in problems], [storable(p.message) for p in problems],
                None if record is None else json_text(record),
                *(storable_values(raw_values) if raw_values is not None else self._no_raw))

    def add(self, rows: list[tuple]) -> None:
        """Stage a batch: COPY it, keep it raw, keep its checked values."""
        with self._cursor.copy(f"COPY {_BATCH} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self._conn.execute(self._keep_raw)
        self._conn.execute(self._keep_checked)
        self._conn.exec_driver_sql(f"TRUNCATE {_BATCH}")

    def close(self) -> None:
        self._cursor.close()


# ---- values as received, made storable ---------------------------------------------------------
# PostgreSQL text holds no NUL and JSONB no lone surrogate: in the raw record they become U+FFFD
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


def json_text(value, depth: int = 0) -> str:
    """JSON text of a parsed value; Decimal numbers are written exactly as they were parsed."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(storable(value), ensure_ascii=False)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if depth >= _MAX_DEPTH:
        return json.dumps(f"(nested deeper than {_MAX_DEPTH} levels; not kept)")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json_text(str(k))}:{json_text(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v, depth + 1) for v in value) + "]"
    return json.dumps(storable(str(value)), ensure_ascii=False)

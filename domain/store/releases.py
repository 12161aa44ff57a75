"""Releasing cases from their agents: unassigned, Pending, assignment ended, history written.

One statement for whoever takes cases back (an agent's deactivation, an ingest moving them to
another team); each caller picks the cases and the history's comment.
"""
from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from domain.cases import CaseStatus

# {held} selects the cases, locked: id, agent (their assigned_to), status_before, reason (the
# comment). Each case's history rows come out together, the assignment one first.
_RELEASE = """
    WITH held AS ({held}), released AS (
        UPDATE cases_processed c
           SET assigned_to = NULL, status = CAST(:pending AS case_status){touch}
          FROM held h
         WHERE c.id = h.id
        RETURNING c.id, h.agent, h.status_before::text AS status_before, h.reason
    ), ended AS (
        UPDATE case_assignments a SET released_at = {clock}, release_reason = r.reason
        FROM released r WHERE a.case_pk = r.id AND a.released_at IS NULL
    ), history AS (
        INSERT INTO case_status_history (case_pk, at, by, kind, from_value, to_value, comment, job_id)
        SELECT r.id, {clock}, :by, h.kind, h.from_value, h.to_value, r.reason, :job_id
        FROM released r CROSS JOIN LATERAL (VALUES
            (1, 'assignment'::history_kind, r.agent::text, NULL),
            (2, 'status'::history_kind, r.status_before, CAST(:pending AS text))
        ) AS h(seq, kind, from_value, to_value)
        WHERE h.kind = 'assignment' OR h.from_value <> h.to_value
        ORDER BY r.id, h.seq
    )
    SELECT count(*) FROM released
"""


def release_cases(conn: Connection, held: str, params: dict, *, by: int | None, job_id: uuid.UUID | None,
                  clock: str = "statement_timestamp()", touch: bool = True) -> int:
    """Release the cases `held` selects (with its `params`); returns how many.

    `clock` is the SQL time of the release; `touch` bumps the cases' version and updated_at
    (off when the caller's next statement in the transaction bumps them anyway).
    """
    sql = _RELEASE.format(held=held, clock=clock,
                          touch=f", version = c.version + 1, updated_at = {clock}" if touch else "")
    return conn.execute(text(sql), {**params, "by": by, "job_id": job_id,
                                    "pending": CaseStatus.PENDING.value}).scalar_one()

"""Releasing cases from their agents: unassigned, Pending, assignment ended, status move recorded.

One statement for whoever takes cases back (an agent's deactivation, an ingest moving them to
another team); each caller picks the cases and the history's comment.
"""
from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from domain.cases import CaseStatus

# {held} selects the cases: id, status_before, reason (the comment).
# The end of the assignment and the status move share the statement's time: the history shows
# the assignment's end first, then the move.
_RELEASE = """
    WITH held AS ({held}), released AS (
        UPDATE cases_processed c
           SET assigned_to = NULL, status = CAST(:pending AS case_status){touch}
          FROM held h
         WHERE c.id = h.id
        RETURNING c.id, h.status_before, h.reason
    ), ended AS (
        UPDATE case_assignments a
           SET released_at = statement_timestamp(), released_by = :by, release_reason = r.reason
          FROM released r
         WHERE a.case_pk = r.id AND a.released_at IS NULL
    ), moved AS (
        INSERT INTO case_status_history (case_pk, at, by, from_value, to_value, comment, job_id)
        SELECT id, statement_timestamp(), :by, status_before, CAST(:pending AS case_status), reason, :job_id
        FROM released WHERE status_before <> CAST(:pending AS case_status)
    )
    SELECT count(*) FROM released
"""


def release_cases(conn: Connection, held: str, params: dict, *, by: int | None, job_id: uuid.UUID | None,
                  touch: bool = True) -> int:
    """Release the cases `held` selects (with its `params`), which the caller has locked; returns how many.

    Locked by an earlier statement, so this statement's time, the release's time in the history,
    comes after every change to those cases that it waited for. `touch` bumps the cases' version
    and updated_at (off when the caller's next statement in the transaction bumps them anyway).
    """
    sql = _RELEASE.format(held=held, touch=", version = c.version + 1, updated_at = statement_timestamp()"
                          if touch else "")
    return conn.execute(text(sql), {**params, "by": by, "job_id": job_id,
                                    "pending": CaseStatus.PENDING.value}).scalar_one()

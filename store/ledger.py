"""The ledger's effect on cases and promises, set-based: one payment or a bank's whole file.

The caller inserts or reverses payments, then hands the changes to `apply_ledger` as a table of
(case_pk, delta) rows: the sums that moved, per case. One statement moves each case's
`amount_recovered` by its delta and makes the status move of `domain.payments.status_after_ledger`
(paid in full resolves; a balance due again reopens what a payment resolved), with its history
entry; a second one recomputes what counts toward the open promises of those cases
(`domain.promises.counts_toward`) and keeps those that reached their threshold. The cost follows
the cases touched, not the book.
"""
from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Connection, text

from domain.cases import CaseStatus
from domain.payments import PAID_IN_FULL, REOPENED_BY_REVERSAL, LedgerOutcome
from domain.promises import PromiseStatus
from store.promises import MARK_CASES

# {deltas}: a table or subquery of (case_pk, delta); each case at most once, locked by the caller.
# The CASE expressions are domain.payments.status_after_ledger in SQL (tests/integration/
# test_ledger.py holds the two against each other).
_APPLY = """
    WITH deltas AS ({deltas}), before AS (
        SELECT c.id, c.status, c.due_amount - (coalesce(c.amount_recovered, 0) + d.delta) AS balance_after,
               nullif(coalesce(c.amount_recovered, 0) + d.delta, 0) AS recovered_after, c.resolved_by_payment
          FROM cases_processed c JOIN deltas d ON d.case_pk = c.id
    ), moves AS (
        SELECT id, status, recovered_after,
               CASE WHEN balance_after <= 0 AND status <> :resolved THEN CAST(:resolved AS case_status)
                    WHEN balance_after > 0 AND status = :resolved AND resolved_by_payment
                         THEN CAST(:in_progress AS case_status)
               END AS to_status
          FROM before
    ), changed AS (
        UPDATE cases_processed c
           SET amount_recovered = m.recovered_after,
               status = coalesce(m.to_status, c.status),
               resolved_at = CASE WHEN m.to_status = :resolved THEN statement_timestamp()
                                  WHEN m.to_status IS NOT NULL THEN NULL ELSE c.resolved_at END,
               resolved_by_payment = CASE WHEN m.to_status IS NULL THEN c.resolved_by_payment
                                          ELSE m.to_status = :resolved END,
               version = CASE WHEN :new_version THEN c.version + 1 ELSE c.version END,
               updated_at = CASE WHEN :new_version THEN statement_timestamp() ELSE c.updated_at END
          FROM moves m
         WHERE c.id = m.id
        RETURNING c.id, m.status AS from_status, m.to_status
    ), history AS (
        INSERT INTO case_status_history (case_pk, at, by, from_value, to_value, comment, job_id)
        SELECT id, statement_timestamp(), :by, from_status, to_status,
               CASE WHEN to_status = :resolved THEN :paid_in_full ELSE :reopened END, :job_id
          FROM changed WHERE to_status IS NOT NULL
    )
    SELECT count(*) FILTER (WHERE to_status = :resolved) AS paid_off,
           count(*) FILTER (WHERE to_status = :in_progress) AS reopened
      FROM changed
"""

# What counts toward each open promise of the touched cases, recomputed from the ledger
# (domain.promises.counts_toward); a promise whose count reached its threshold (half up to the
# cent and at least a cent, as kept_threshold) is kept.
_PROMISES = """
    WITH counted AS (
        SELECT pr.id, coalesce(sum(p.amount), 0) AS paid,
               greatest(round(pr.amount * :kept_percent / 100, 2), 0.01) AS threshold
          FROM promises pr
          JOIN ({cases}) t ON t.case_pk = pr.case_pk
          LEFT JOIN payments p
                 ON p.case_pk = pr.case_pk AND p.reversed_at IS NULL AND p.created_at >= pr.created_at
                AND p.paid_on >= CAST(pr.created_at AT TIME ZONE 'UTC' AS date)
         WHERE pr.status = :open
         GROUP BY pr.id
    ), updated AS (
        UPDATE promises pr
           SET paid = c.paid,
               status = CASE WHEN c.paid >= c.threshold THEN CAST(:kept AS promise_status) ELSE pr.status END,
               closed_at = CASE WHEN c.paid >= c.threshold THEN statement_timestamp() END
          FROM counted c
         WHERE pr.id = c.id AND pr.status = :open  -- the promises job may have closed it meanwhile
           AND (pr.paid <> c.paid OR c.paid >= c.threshold)
        RETURNING pr.case_pk, pr.status
    ), marked AS ({marked})
    SELECT count(*) FILTER (WHERE status = :kept) FROM updated
"""

_MARK_KEPT = MARK_CASES.format(changed="(SELECT * FROM updated WHERE status <> 'open')")


def apply_ledger(conn: Connection, deltas: str, params: dict, *, by: int | None, job_id: uuid.UUID | None,
                 kept_percent: Decimal, new_version: bool = True) -> LedgerOutcome:
    """Apply the ledger's changes `deltas` selects (case_pk, delta) to their cases, which the
    caller has locked, and to their open promises.

    Each case gets a new version (and updated_at), unless `new_version` is False: the caller's
    transaction already made it (a status change recording its settlement is one change).
    """
    status = {"resolved": CaseStatus.RESOLVED.value, "in_progress": CaseStatus.IN_PROGRESS.value}
    moved = conn.execute(text(_APPLY.format(deltas=deltas)), {
        **params, **status, "by": by, "job_id": job_id, "paid_in_full": PAID_IN_FULL,
        "reopened": REOPENED_BY_REVERSAL, "new_version": new_version,
    }).one()
    kept = conn.execute(text(_PROMISES.format(cases=f"SELECT case_pk FROM ({deltas}) d", marked=_MARK_KEPT)), {
        **params, "open": PromiseStatus.OPEN.value, "kept": PromiseStatus.KEPT.value, "kept_percent": kept_percent,
    }).scalar_one()
    return LedgerOutcome(paid_off=moved.paid_off, reopened=moved.reopened, promises_kept=kept)

"""Promises to pay: take one, cancel it, a case's promises, the promises job."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from domain.cases import Case
from domain.promises import Promise, PromiseStatus
from store.tables import cases_processed, promises

_pr = promises.c
_PROMISE = select(promises, cases_processed.c.case_id).join(cases_processed, cases_processed.c.id == _pr.case_pk)
_OPEN = PromiseStatus.OPEN.value

# The promises job: domain.promises.state_of in SQL, for every open promise it decides. Kept at
# the threshold (half up to the cent and at least a cent, as kept_threshold); past due_date +
# grace, partial when anything was paid, else broken. `due_date < as_of - grace` reads
# promises_open_due_idx; the kept test walks the open promises only (normally none: payments keep
# them as they come). One UPDATE, so a promise a payment changed meanwhile is decided again on
# what that payment left.
_THRESHOLD = "greatest(round(amount * :kept_percent / 100, 2), 0.01)"
_DECIDED = f"status = 'open' AND (due_date < CAST(:as_of AS date) - CAST(:grace_days AS int) OR paid >= {_THRESHOLD})"

# A promise that changes is its case's latest: a new one, or the open one closing (a case has at
# most one open promise, and it is its newest). So the case takes the changed promise's status,
# in the statement that changes it: `{changed}` names the (case_pk, status) rows changed.
MARK_CASES = """
    UPDATE cases_processed c SET latest_promise = changed.status
      FROM {changed} changed
     WHERE c.id = changed.case_pk AND c.latest_promise IS DISTINCT FROM changed.status
"""

# the promises job's one statement (public: bench/promises.py EXPLAINs it). It locks the cases
# first, in id order, as every other writer of a case and its promises does (a payment locks the
# case, then updates the promise): then it writes the promises and the cases' latest_promise.
CLOSE_STATEMENT = f"""
    WITH locked AS (
        SELECT c.id FROM cases_processed c
         WHERE c.id IN (SELECT case_pk FROM promises WHERE {_DECIDED})
         ORDER BY c.id FOR UPDATE OF c
    ), closed AS (
        UPDATE promises
           SET status = CAST(CASE WHEN paid >= {_THRESHOLD} THEN 'kept'
                                  WHEN paid > 0 THEN 'partial' ELSE 'broken' END AS promise_status),
               closed_at = statement_timestamp()
         WHERE case_pk IN (SELECT id FROM locked) AND {_DECIDED}
        RETURNING case_pk, status
    ), marked AS ({MARK_CASES.format(changed="closed")})
    SELECT status::text, count(*) FROM closed GROUP BY status
"""

_MARK_ONE = MARK_CASES.format(changed="(SELECT CAST(:case_pk AS bigint) AS case_pk, "
                                      "CAST(:status AS promise_status) AS status)")


def mark_case(conn: Connection, case_pk: int, status: PromiseStatus | str) -> None:
    """The case's latest promise is now of `status` (see MARK_CASES)."""
    conn.execute(text(_MARK_ONE), {"case_pk": case_pk, "status": PromiseStatus(status).value})


def _to_promise(row, case_id: str | None = None) -> Promise:
    return Promise(
        id=row.id, case_pk=row.case_pk, case_id=case_id or row.case_id, amount=row.amount, due_date=row.due_date,
        status=PromiseStatus(row.status), paid=row.paid, created_by=row.created_by, created_at=row.created_at,
        closed_at=row.closed_at, cancel_reason=row.cancel_reason,
    )


class PromiseStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, case: Case, *, amount: Decimal, due_date: date, by: int | None) -> Promise | None:
        """Insert an open promise, unless the case has one (promises_one_open_key; then None)."""
        row = self.conn.execute(
            insert(promises).values(case_pk=case.id, amount=amount, due_date=due_date, created_by=by,
                                    created_at=func.statement_timestamp())
            .on_conflict_do_nothing(index_elements=[_pr.case_pk], index_where=_pr.status == _OPEN)
            .returning(promises)
        ).first()
        if row is None:
            return None
        mark_case(self.conn, case.id, PromiseStatus.OPEN)
        return _to_promise(row, case.case_id)

    def get(self, promise_id: int) -> Promise | None:
        row = self.conn.execute(_PROMISE.where(_pr.id == promise_id)).first()
        return _to_promise(row) if row else None

    def cancel(self, promise_id: int, *, by: int | None, reason: str) -> Promise | None:
        """Close it as cancelled if it is still open (the promises job may have closed it since
        it was read); None when it was not."""
        case_pk = self.conn.execute(update(promises).where(_pr.id == promise_id, _pr.status == _OPEN).values(
            status=PromiseStatus.CANCELLED.value, closed_at=func.statement_timestamp(), closed_by=by,
            cancel_reason=reason).returning(_pr.case_pk)).scalar()
        if case_pk is None:
            return None
        mark_case(self.conn, case_pk, PromiseStatus.CANCELLED)
        return self.get(promise_id)

    def list(self, case_pk: int, *, after_id: int | None, limit: int) -> list[Promise]:
        """The case's promises oldest first (promises_case_idx), keyset after `after_id`."""
        query = _PROMISE.where(_pr.case_pk == case_pk)
        if after_id is not None:
            query = query.where(_pr.id > after_id)
        return [_to_promise(row) for row in self.conn.execute(query.order_by(_pr.id).limit(limit))]

    def close_decided(self, as_of: date, *, grace_days: int, kept_percent: Decimal) -> dict[PromiseStatus, int]:
        """Close the open promises `as_of` decides, in one statement; how many per status."""
        rows = self.conn.execute(text(CLOSE_STATEMENT), {"as_of": as_of, "grace_days": grace_days,
                                                "kept_percent": kept_percent})
        return {PromiseStatus(status): count for status, count in rows}

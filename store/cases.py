"""Processed cases: read one (optionally locked), list with keyset pagination, change status, history."""
from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, text, true, update

from domain.case_queries import CaseFilter, CaseSort
from domain.cases import Case, CaseStatus, HistoryEntry, HistoryKind, Priority
from domain.promises import Promise, PromiseStatus
from domain.users import Team
from domain.workflow import StatusChange
from store import case_listing
from store.tables import case_status_history, cases_processed, promises

_c = cases_processed.c
_pr = promises.c

# The case's open promise, found by promises_one_open_key: one index probe per case read, so a
# page of the listing stays one query. LIMIT 1 (there is at most one) keeps PostgreSQL from
# flattening it into a join: merged with the cases, a deep page would walk the open promises of
# every case before it.
_open_promise = (
    select(_pr.id.label("promise_id"), _pr.amount.label("promise_amount"), _pr.due_date.label("promise_due_date"),
           _pr.paid.label("promise_paid"), _pr.created_by.label("promise_created_by"),
           _pr.created_at.label("promise_created_at"))
    .where(_pr.case_pk == _c.id, _pr.status == PromiseStatus.OPEN.value)
    .limit(1)
    .lateral("open_promise")
)
_CASES = (select(cases_processed, *_open_promise.c)
          .select_from(cases_processed.outerjoin(_open_promise, true())))


def _to_promise(row) -> Promise | None:
    if row.promise_id is None:
        return None
    return Promise(id=row.promise_id, case_pk=row.id, case_id=row.case_id, amount=row.promise_amount,
                   due_date=row.promise_due_date, status=PromiseStatus.OPEN, paid=row.promise_paid,
                   created_by=row.promise_created_by, created_at=row.promise_created_at)


def _to_case(row) -> Case:
    return Case(
        id=row.id, case_id=row.case_id, bank_code=row.bank_code, borrower_name=row.borrower_name,
        loan_amount=row.loan_amount, due_amount=row.due_amount, days_past_due=row.days_past_due,
        priority=Priority(row.priority), region=row.region, team=Team(row.team), status=CaseStatus(row.status),
        assigned_to=row.assigned_to, amount_recovered=row.amount_recovered, version=row.version,
        created_at=row.created_at, updated_at=row.updated_at, resolved_at=row.resolved_at,
        borrower_ref=row.borrower_ref, timezone=row.timezone, promise=_to_promise(row), on_hold=row.on_hold,
    )


# A case's history: its status moves, and from each of its assignments the start, the status
# move the assignment made and the end; its payments (to: the amount) and their reversals (from:
# the amount); its promises taken (to: open) and closed (from: open, to: how). Derived from the
# rows the changes wrote, so the hot paths write no entry of their own. In time order; entries of
# one statement (an assignment and its move, a release and its move) share its time and come in
# `seq` order. Every writer takes the case's row lock in an earlier statement, so time order is
# the order of the changes.
_HISTORY = """
    SELECT at, by, kind, from_value, to_value, comment FROM (
        SELECT at, by, 'status' AS kind, from_value::text, to_value::text, comment, 2 AS seq, id
        FROM case_status_history WHERE case_pk = :case_pk
        UNION ALL
        SELECT assigned_at, assigned_by, 'assignment', NULL, assigned_to::text, NULL, 0, id
        FROM case_assignments WHERE case_pk = :case_pk
        UNION ALL
        SELECT assigned_at, assigned_by, 'status', status_from::text, status_to::text, NULL, 1, id
        FROM case_assignments WHERE case_pk = :case_pk AND status_from <> status_to
        UNION ALL
        SELECT released_at, released_by, 'assignment', assigned_to::text, NULL, release_reason, 0, id
        FROM case_assignments WHERE case_pk = :case_pk AND released_at IS NOT NULL
        UNION ALL
        SELECT created_at, created_by, 'payment', NULL, amount::text, reference || ' (' || method::text || ')', 1, id
        FROM payments WHERE case_pk = :case_pk
        UNION ALL
        SELECT reversed_at, reversed_by, 'payment', amount::text, NULL,
               'reversed ' || reference || ': ' || reversal_reason, 1, id
        FROM payments WHERE case_pk = :case_pk AND reversed_at IS NOT NULL
        UNION ALL
        SELECT created_at, created_by, 'promise', NULL, 'open', amount::text || ' by ' || due_date::text, 0, id
        FROM promises WHERE case_pk = :case_pk
        UNION ALL
        SELECT closed_at, closed_by, 'promise', 'open', status::text,
               coalesce(cancel_reason, 'paid ' || paid::text || ' of ' || amount::text), 3, id
        FROM promises WHERE case_pk = :case_pk AND closed_at IS NOT NULL
        UNION ALL
        SELECT created_at, created_by, 'contact', NULL,
               channel::text || ' ' || direction::text || ': ' || outcome::text,
               concat_ws('; ', CASE WHEN reported THEN 'reported, at ' || at::text END,
                         CASE WHEN policy_violations <> '{}'
                              THEN 'policy: ' || array_to_string(policy_violations, ', ') END,
                         'override: ' || override_reason, note), 1, id
        FROM contacts WHERE case_pk = :case_pk
        UNION ALL
        SELECT created_at, created_by, 'hold', NULL, type::text, scope::text || ' hold: ' || reason, 2, id
        FROM holds WHERE case_pk = :case_pk
        UNION ALL
        SELECT lifted_at, lifted_by, 'hold', type::text, NULL, 'lifted: ' || lift_reason, 2, id
        FROM holds WHERE case_pk = :case_pk AND lifted_at IS NOT NULL
    ) entries
    ORDER BY at, seq, id
"""


def _to_entry(row) -> HistoryEntry:
    kind = HistoryKind(row.kind)
    if kind is HistoryKind.ASSIGNMENT:  # user ids
        from_value, to_value = (None if v is None else int(v) for v in (row.from_value, row.to_value))
    else:
        from_value, to_value = row.from_value, row.to_value
    return HistoryEntry(at=row.at, by=row.by, kind=kind, from_value=from_value, to_value=to_value,
                        comment=row.comment)


def listing_query(case_filter: CaseFilter, sort: CaseSort, *, after: tuple | None, limit: int):
    """The page's cases with their open promise: the page's ids (case_listing) joined back."""
    page = case_listing.page_ids(case_filter, sort, after=after, limit=limit)
    return (select(cases_processed, *_open_promise.c)
            .select_from(page.join(cases_processed, page.c.id == _c.id).outerjoin(_open_promise, true()))
            .order_by(*case_listing.order(sort)))


class CaseStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self, case_pk: int, *, for_update: bool = False) -> Case | None:
        query = _CASES.where(_c.id == case_pk)
        if for_update:
            query = query.with_for_update(of=cases_processed)  # the case's row; its promise has its own
        row = self.conn.execute(query).first()
        return _to_case(row) if row else None

    def list(self, case_filter: CaseFilter, sort: CaseSort, *, after: tuple | None, limit: int) -> list[Case]:
        """Filtered cases in sort order (then id, same direction), after the keyset `after`."""
        return [_to_case(row) for row in self.conn.execute(listing_query(case_filter, sort, after=after, limit=limit))]

    def apply_status_change(self, case_pk: int, change: StatusChange, *, by: int | None) -> Case:
        """Write the change (new version) and its history entry; the caller holds the row lock.

        amount_recovered is the ledger's (a settlement is a payment): a status change never
        writes it. Resolving stamps resolved_at; any other move clears it. Either way the case
        is no longer one a payment resolved, so a reversal will not reopen it.
        """
        # statement_timestamp(), not now(): a writer that queued for the lock started its
        # transaction before the previous writer committed, yet its change comes after
        changed_at = func.statement_timestamp()
        updated_at = self.conn.execute(
            update(cases_processed).where(_c.id == case_pk).values(
                status=change.to_status.value,
                resolved_at=changed_at if change.resolves else None,
                resolved_by_payment=False,
                version=_c.version + 1,
                updated_at=changed_at,
            ).returning(_c.updated_at)
        ).scalar_one()
        self.conn.execute(insert(case_status_history).values(
            case_pk=case_pk, at=updated_at, by=by, from_value=change.from_status.value,
            to_value=change.to_status.value, comment=change.comment,
        ))
        return self.get(case_pk)

    def history(self, case_pk: int) -> list[HistoryEntry]:
        """The case's entries, oldest first (see _HISTORY)."""
        return [_to_entry(row) for row in self.conn.execute(text(_HISTORY), {"case_pk": case_pk})]

"""Holds on a case or its borrower: place, lift, the ones covering a case, pauses that ended."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Connection, Select, and_, false, func, literal_column, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from domain.cases import Case
from domain.contact_policy import HoldType
from domain.holds import PAUSE_ENDED, Hold, HoldScope
from store.tables import cases_processed, holds

_h = holds.c
_c = cases_processed.c
_HOLD = select(holds, _c.case_id).join(cases_processed, _c.id == _h.case_pk)
_BORROWER = HoldScope.BORROWER.value
_SCOPE = (_h.case_pk, _h.scope, _h.bank_code, _h.borrower_ref)  # what a hold covers


def _to_hold(row, case_id: str | None = None) -> Hold:
    return Hold(id=row.id, case_pk=row.case_pk, case_id=case_id or row.case_id, borrower_ref=row.borrower_ref,
                scope=HoldScope(row.scope), type=HoldType(row.type), reason=row.reason, until=row.until,
                created_by=row.created_by, created_at=row.created_at, lifted_at=row.lifted_at,
                lifted_by=row.lifted_by, lift_reason=row.lift_reason)


def _borrower_holds(bank_code, borrower_ref):
    """Borrower-scope holds of that person (holds_borrower_idx); none for a case without borrower_ref."""
    if borrower_ref is None:
        return false()
    return and_(_h.scope == _BORROWER, _h.borrower_ref.is_not(None), _h.bank_code == bank_code,
                _h.borrower_ref == borrower_ref)


def _covering(case: Case):
    return or_(_h.case_pk == case.id, _borrower_holds(case.bank_code, case.borrower_ref))


def covering_at(case: Case, at: datetime):
    """SQL: the holds on the case or its borrower active at `at` (placed by then, not lifted by then)."""
    return and_(_covering(case), _h.created_at <= at, or_(_h.lifted_at.is_(None), _h.lifted_at > at))


def held_sql(*, case_pk: str | None, bank_code: str, borrower_ref: str) -> str:
    """SQL text: an active hold on the case `case_pk` (None: a case not stored yet has none) or on
    the borrower (bank_code, borrower_ref); each argument is an SQL expression."""
    borrower = (f"EXISTS (SELECT FROM holds h WHERE h.lifted_at IS NULL AND h.scope = '{_BORROWER}' "
                f"AND h.borrower_ref IS NOT NULL AND h.bank_code = {bank_code} AND h.borrower_ref = {borrower_ref})")
    if case_pk is None:
        return borrower
    return f"(EXISTS (SELECT FROM holds h WHERE h.lifted_at IS NULL AND h.case_pk = {case_pk}) OR {borrower})"


def refresh_on_hold(conn: Connection, cases) -> int:
    """Make `cases_processed.on_hold` of the cases `cases` selects (a select of ids) what their active
    holds say; how many changed. Every writer of holds calls it, in its transaction, for the cases
    its holds cover: the flag is derived from the holds, never set by hand. The listing reads it
    (the held cases' partial indexes), so do the case resource and the assignment run."""
    held = literal_column(held_sql(case_pk="cases_processed.id", bank_code="cases_processed.bank_code",
                                   borrower_ref="cases_processed.borrower_ref"), Boolean)
    return conn.execute(update(cases_processed).where(_c.id.in_(cases), _c.on_hold != held)
                        .values(on_hold=held)).rowcount


def cases_covered_by(hold_rows) -> Select:
    """The ids of the cases the holds (rows of case_pk, scope, bank_code, borrower_ref) cover: each
    hold's case, and every case of a borrower a borrower-scope hold names (cases_borrower_ref_idx)."""
    rows = list(hold_rows)
    covered = cases_processed.alias("covered")  # not correlated with the cases being updated
    query = select(covered.c.id).where(covered.c.id.in_(sorted({r.case_pk for r in rows})))
    borrowers = {(r.borrower_ref, r.bank_code) for r in rows if r.scope == _BORROWER and r.borrower_ref is not None}
    if borrowers:
        query = query.union(select(covered.c.id).where(
            covered.c.borrower_ref.is_not(None),
            tuple_(covered.c.borrower_ref, covered.c.bank_code).in_(sorted(borrowers))))
    return query


class HoldStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, case: Case, *, hold_type: HoldType, scope: HoldScope, reason: str, until: date | None,
            by: int | None) -> Hold | None:
        """Insert the hold, unless one of its type and scope is active (the two partial unique keys)."""
        row = self.conn.execute(
            insert(holds).values(case_pk=case.id, bank_code=case.bank_code, borrower_ref=case.borrower_ref,
                                 scope=scope.value, type=hold_type.value, reason=reason, until=until,
                                 created_by=by, created_at=func.statement_timestamp())
            .on_conflict_do_nothing()  # either key: an active hold of that type covers the same scope
            .returning(holds)
        ).first()
        if row is None:
            return None
        refresh_on_hold(self.conn, cases_covered_by([row]))
        return _to_hold(row, case.case_id)

    def get(self, hold_id: int) -> Hold | None:
        row = self.conn.execute(_HOLD.where(_h.id == hold_id)).first()
        return _to_hold(row) if row else None

    def lift(self, hold_id: int, *, by: int | None, reason: str) -> Hold | None:
        lifted = self.conn.execute(update(holds).where(_h.id == hold_id, _h.lifted_at.is_(None)).values(
            lifted_at=func.statement_timestamp(), lifted_by=by, lift_reason=reason).returning(*_SCOPE)).all()
        if not lifted:
            return None
        refresh_on_hold(self.conn, cases_covered_by(lifted))
        return self.get(hold_id)

    def covering(self, case: Case) -> list[Hold]:
        """The active holds on the case or its borrower."""
        return [_to_hold(row) for row in self.conn.execute(_HOLD.where(_covering(case), _h.lifted_at.is_(None))
                                                           .order_by(_h.id))]

    def list(self, case: Case, *, active: bool | None, after_id: int | None, limit: int) -> list[Hold]:
        query = _HOLD.where(_covering(case))
        if active is not None:
            query = query.where(_h.lifted_at.is_(None) if active else _h.lifted_at.is_not(None))
        if after_id is not None:
            query = query.where(_h.id > after_id)
        return [_to_hold(row) for row in self.conn.execute(query.order_by(_h.id).limit(limit))]

    def lift_ended_pauses(self, as_of: date) -> int:
        lifted = self.conn.execute(update(holds).where(
            _h.type == HoldType.PAUSE.value, _h.lifted_at.is_(None), _h.until < as_of,
        ).values(lifted_at=func.statement_timestamp(), lift_reason=PAUSE_ENDED).returning(*_SCOPE)).all()
        if lifted:
            refresh_on_hold(self.conn, cases_covered_by(lifted))
        return len(lifted)


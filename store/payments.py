"""The payments ledger: one payment, its reversal, a case's payments."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from domain.cases import Case
from domain.payments import LedgerOutcome, Payment, PaymentMethod
from store.ledger import apply_ledger
from store.tables import cases_processed, payments

_p = payments.c
# the bank's case id comes with every payment read back
_PAYMENT = select(payments, cases_processed.c.case_id).join(cases_processed, cases_processed.c.id == _p.case_pk)
# one case's change, as apply_ledger takes changes
_ONE_CASE = "SELECT CAST(:case_pk AS bigint) AS case_pk, CAST(:delta AS numeric) AS delta"


def _to_payment(row, case_id: str | None = None) -> Payment:
    return Payment(
        id=row.id, case_pk=row.case_pk, case_id=case_id or row.case_id, amount=row.amount, paid_on=row.paid_on,
        reference=row.reference, method=PaymentMethod(row.method), created_by=row.created_by,
        created_at=row.created_at, reversed_at=row.reversed_at, reversed_by=row.reversed_by,
        reversal_reason=row.reversal_reason,
    )


class PaymentStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def by_reference(self, bank_code: str, reference: str) -> Payment | None:
        """The bank's payment under this reference (payments_bank_reference_key)."""
        row = self.conn.execute(_PAYMENT.where(_p.bank_code == bank_code, _p.reference == reference)).first()
        return _to_payment(row) if row else None

    def add(self, case: Case, *, amount: Decimal, paid_on: date, reference: str, method: PaymentMethod,
            by: int | None) -> Payment | None:
        """Insert the payment unless the bank already used the reference (then None, nothing written:
        a concurrent insert of the same reference waits for the other to commit, never raises)."""
        # statement time, not the transaction's: a payment that queued for the case's lock is
        # recorded after the change it waited for, in the history and for the promise it counts toward
        row = self.conn.execute(
            insert(payments).values(case_pk=case.id, bank_code=case.bank_code, reference=reference, amount=amount,
                                    paid_on=paid_on, method=method.value, created_by=by,
                                    created_at=func.statement_timestamp())
            .on_conflict_do_nothing(index_elements=[_p.bank_code, _p.reference])
            .returning(payments)
        ).first()
        return _to_payment(row, case.case_id) if row else None

    def apply(self, case_pk: int, delta: Decimal, *, by: int | None, kept_percent: Decimal,
              new_version: bool = True) -> LedgerOutcome:
        """The ledger's change of one locked case (store.ledger.apply_ledger)."""
        return apply_ledger(self.conn, _ONE_CASE, {"case_pk": case_pk, "delta": delta}, by=by, job_id=None,
                            kept_percent=kept_percent, new_version=new_version)

    def get(self, payment_id: int) -> Payment | None:
        row = self.conn.execute(_PAYMENT.where(_p.id == payment_id)).first()
        return _to_payment(row) if row else None

    def reverse(self, payment_id: int, *, by: int | None, reason: str) -> Payment:
        """Stamp the reversal; the caller holds the case's lock and checked it was not reversed."""
        self.conn.execute(update(payments).where(_p.id == payment_id).values(
            reversed_at=func.statement_timestamp(), reversed_by=by, reversal_reason=reason))
        return self.get(payment_id)

    def list(self, case_pk: int, *, after_id: int | None, limit: int) -> list[Payment]:
        """The case's payments oldest first (payments_case_idx), keyset after `after_id`."""
        query = _PAYMENT.where(_p.case_pk == case_pk)
        if after_id is not None:
            query = query.where(_p.id > after_id)
        return [_to_payment(row) for row in self.conn.execute(query.order_by(_p.id).limit(limit))]

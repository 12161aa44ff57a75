"""The status workflow: checking a change against the transition table, and the update-status use case."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from domain.cases import (
    ADMIN_ONLY_TRANSITIONS,
    TRANSITIONS,
    Case,
    CaseStatus,
    allowed_transitions,
    may_handle,
)
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from domain.events import CasesChanged
from domain.payments import PaymentMethod, settlement_on_resolve, settlement_reference
from domain.promises import PromiseTerms
from domain.viewer import Viewer

if TYPE_CHECKING:  # domain.stores speaks of status changes
    from domain.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class StatusChange:
    """What a status change writes. Resolving may record a settlement payment: the amount the
    resolution recovers beyond the case's payments so far (0: none)."""

    from_status: CaseStatus
    to_status: CaseStatus
    comment: str | None
    settlement: Decimal = Decimal(0)

    @property
    def resolves(self) -> bool:
        return self.to_status is CaseStatus.RESOLVED


def plan_status_change(case: Case, to: CaseStatus, actor: Viewer, *,
                       amount_recovered: Decimal | None = None, comment: str | None = None) -> StatusChange:
    """The change moving `case` to `to`, or the domain error saying why the workflow refuses it."""
    if amount_recovered is not None and to is not CaseStatus.RESOLVED:
        raise InvalidInput("amount_recovered is only accepted with status Resolved",
                           {"amount_recovered": ["only accepted with status Resolved"]})
    if to not in TRANSITIONS[case.status]:
        allowed = [s.value for s in allowed_transitions(case.status, is_admin=actor.is_admin)]
        listed = ", ".join(allowed) or "none"
        raise Conflict(f"a {case.status.value} case cannot move to {to.value}; allowed: {listed}",
                       {"status": [f"allowed from {case.status.value}: {listed}"]})
    if (case.status, to) in ADMIN_ONLY_TRANSITIONS and not actor.is_admin:
        raise Forbidden(f"moving a {case.status.value} case to {to.value} needs the admin role")
    if to is not CaseStatus.RESOLVED:
        # a reopen keeps the recovery: amount_recovered is the ledger's, and payments stand
        return StatusChange(case.status, to, comment)
    # a bank's refresh may lower the due amount below what was paid: the payments stand, and the
    # case can still be resolved for them
    ceiling = max(case.due_amount, case.amount_recovered or Decimal(0))
    if amount_recovered is not None and not Decimal(0) <= amount_recovered <= ceiling:
        raise InvalidInput(f"amount_recovered must be between 0.00 and the due amount {ceiling}",
                           {"amount_recovered": [f"must be between 0.00 and {ceiling}"]})
    settlement = settlement_on_resolve(amount_recovered, case.amount_recovered, case.due_amount)
    return StatusChange(case.status, to, comment, settlement)


def update_status(uow: UnitOfWork, case_pk: int, actor: Viewer, *, status: CaseStatus, today: date,
                  terms: PromiseTerms, comment: str | None = None, amount_recovered: Decimal | None = None,
                  if_match: frozenset[int] | None = None) -> Case:
    """Move a case along the workflow; the case, its history entry and any settlement payment
    commit together.

    `if_match` holds the versions the caller accepts (None: any). The row lock makes concurrent
    updates of one case queue up, so each sees the version the previous one committed. A
    settlement is dated `today` and applied after the move, so the case is already Resolved by
    status when the ledger sees it: the ledger moves no status, and a reversal never reopens it.
    """
    case = uow.cases.get(case_pk, for_update=True)
    if case is None:
        raise NotFound(f"case {case_pk} not found")
    if not may_handle(actor, case):
        raise Forbidden(f"case {case_pk} is not assigned to you")
    if if_match is not None and case.version not in if_match:
        raise PreconditionFailed(f"case {case_pk} is at version {case.version}; reload it and retry")
    change = plan_status_change(case, status, actor, amount_recovered=amount_recovered, comment=comment)
    updated = uow.cases.apply_status_change(case_pk, change, by=actor.user_id)
    if change.settlement:
        _record_settlement(uow, case, change.settlement, by=actor.user_id, today=today, terms=terms)
        updated = uow.cases.get(case_pk)
    uow.record(CasesChanged("status"))
    uow.commit()
    return updated


def _record_settlement(uow: UnitOfWork, case: Case, amount: Decimal, *, by: int, today: date,
                       terms: PromiseTerms) -> None:
    """The settlement payment of a resolution, through the ledger like any payment (in the same
    version of the case as the status change that records it)."""
    attempt = 0  # a reference the bank's own payments already use gets the next suffix
    while uow.payments.add(case, amount=amount, paid_on=today, method=PaymentMethod.SETTLEMENT, by=by,
                           reference=settlement_reference(case.id, case.version, attempt)) is None:
        attempt += 1
    uow.payments.apply(case.id, amount, by=by, kept_percent=terms.kept_percent, new_version=False)

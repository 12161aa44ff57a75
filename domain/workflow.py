"""The status workflow: checking a change against the transition table, and the update-status use case."""
from __future__ import annotations

from dataclasses import dataclass
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
from domain.events import CasesChanged
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from domain.viewer import Viewer

if TYPE_CHECKING:  # domain.stores speaks of status changes
    from domain.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class StatusChange:
    """What a status change writes. Only a Resolved case carries an amount and a resolution time."""

    from_status: CaseStatus
    to_status: CaseStatus
    amount_recovered: Decimal | None
    comment: str | None

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
        # leaving Resolved (a reopen) forgets the recovery: the case is being worked again
        return StatusChange(case.status, to, None, comment)
    amount = case.due_amount if amount_recovered is None else amount_recovered
    if not Decimal(0) <= amount <= case.due_amount:
        raise InvalidInput(f"amount_recovered must be between 0.00 and the due amount {case.due_amount}",
                           {"amount_recovered": [f"must be between 0.00 and {case.due_amount}"]})
    return StatusChange(case.status, to, amount, comment)


def update_status(uow: UnitOfWork, case_pk: int, actor: Viewer, *, status: CaseStatus, comment: str | None = None,
                  amount_recovered: Decimal | None = None,
                  if_match: frozenset[int] | None = None) -> Case:
    """Move a case along the workflow; the case and its history entry commit together.

    `if_match` holds the versions the caller accepts (None: any). The row lock makes concurrent
    updates of one case queue up, so each sees the version the previous one committed.
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
    uow.record(CasesChanged("status"))
    uow.commit()
    return updated

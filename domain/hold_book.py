"""Holds, the use cases: put a case or its borrower on hold, lift a hold, list those covering a
case, and lift the pauses whose last day has passed (the promises job)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from domain.case_queries import get_case, locked_case
from domain.cases import Case, may_handle
from domain.contact_policy import HoldType, Outcome
from domain.errors import Conflict, Forbidden, NotFound
from domain.events import CollectingChanged
from domain.holds import (
    DEFAULT_SCOPE,
    HOLD_FOR_OUTCOME,
    Hold,
    HoldScope,
    check_hold,
    may_lift,
    outcome_hold_reason,
)
from domain.viewer import Viewer

if TYPE_CHECKING:
    from domain.unit_of_work import UnitOfWork


def place_hold(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, hold_type: HoldType, reason: str,
               until: date | None, scope: HoldScope | None, today: date) -> Hold:
    """Put the case (or its borrower) on hold; Conflict when a hold of that type and scope is active."""
    case = locked_case(uow, case_pk, viewer)
    check_hold(hold_type, until=until, today=today)
    hold = uow.holds.add(case, hold_type=hold_type, scope=scope or DEFAULT_SCOPE[hold_type], reason=reason,
                         until=until, by=viewer.user_id)
    if hold is None:
        covered = (scope or DEFAULT_SCOPE[hold_type]).value
        raise Conflict(f"an active {hold_type.value} hold already covers this {covered}",
                       {"type": [f"an active {hold_type.value} hold exists"]})
    uow.record(CollectingChanged("hold"))
    uow.commit()
    return hold


def hold_for_outcome(uow: UnitOfWork, case: Case, outcome: Outcome, *, by: int | None, note: str | None) -> Hold | None:
    """The hold a contact's outcome puts its case on (a dispute raised, a cease requested), in the
    contact's transaction; None when the outcome calls for none or one is active already."""
    hold_type = HOLD_FOR_OUTCOME.get(outcome)
    if hold_type is None:
        return None
    return uow.holds.add(case, hold_type=hold_type, scope=DEFAULT_SCOPE[hold_type], until=None, by=by,
                         reason=outcome_hold_reason(outcome, note))


def lift_hold(uow: UnitOfWork, hold_id: int, viewer: Viewer, *, reason: str) -> Hold:
    """Lift an active hold. An agent lifts a dispute or a pause on its own case; the rest an admin."""
    found = uow.holds.get(hold_id)
    if found is None:
        raise NotFound(f"hold {hold_id} not found")
    case = uow.cases.get(found.case_pk, for_update=True)  # holds of a case change under its lock
    if not may_handle(viewer, case):
        raise Forbidden(f"the case of hold {hold_id} is not assigned to you")
    if not may_lift(viewer, found):
        raise Forbidden(f"only an admin may lift a {found.type.value} hold")
    lifted = uow.holds.lift(hold_id, by=viewer.user_id, reason=reason)
    if lifted is None:
        hold = uow.holds.get(hold_id)
        raise Conflict(f"hold {hold_id} was already lifted at {hold.lifted_at.isoformat()}",
                       {"_": ["the hold is lifted already"]})
    uow.record(CollectingChanged("hold lifted"))
    uow.commit()
    return lifted


def list_holds(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, active: bool | None, after_id: int | None,
               limit: int) -> list[Hold]:
    """The holds covering the case (its own and its borrower's), oldest first, after `after_id`."""
    case = get_case(uow, case_pk, viewer)
    return uow.holds.list(case, active=active, after_id=after_id, limit=limit)


def lift_ended_pauses(uow: UnitOfWork, as_of: date) -> int:
    """Lift every pause whose `until` is before `as_of`; how many. In the caller's transaction."""
    lifted = uow.holds.lift_ended_pauses(as_of)
    if lifted:
        uow.record(CollectingChanged("pauses ended"))
    return lifted

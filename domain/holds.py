"""Holds: what stops collection on a case or on every case of its borrower, and their rules.

API.md "Holds": a dispute or pause covers the case by default; a cease, bankruptcy or attorney
covers the borrower (every case with the same bank_code + borrower_ref; a case without
borrower_ref is its own person). One active hold per type and scope (the database enforces it).
An agent lifts a dispute or pause on its own case; the others only an admin. A pause lasts
through its `until` day and lifts itself after (the promises job).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from domain.contact_policy import ActiveHold, HoldType, Outcome
from domain.errors import InvalidInput
from domain.viewer import Viewer


class HoldScope(str, enum.Enum):
    CASE = "case"
    BORROWER = "borrower"


DEFAULT_SCOPE = {
    HoldType.DISPUTE: HoldScope.CASE,
    HoldType.PAUSE: HoldScope.CASE,
    HoldType.CEASE: HoldScope.BORROWER,
    HoldType.BANKRUPTCY: HoldScope.BORROWER,
    HoldType.ATTORNEY: HoldScope.BORROWER,
}
# an agent may lift these on its own case; the others only an admin (legal facts, not tactics)
AGENT_LIFTABLE = frozenset({HoldType.DISPUTE, HoldType.PAUSE})
# no promise to pay may be taken under these
STOPS_PROMISES = frozenset({HoldType.DISPUTE, HoldType.CEASE, HoldType.BANKRUPTCY})
# a contact with this outcome puts its case (or borrower) on this hold, in the same transaction
HOLD_FOR_OUTCOME = {Outcome.DISPUTE_RAISED: HoldType.DISPUTE, Outcome.CEASE_REQUESTED: HoldType.CEASE}
PAUSE_ENDED = "pause ended"  # the lift reason of a pause lifted by the promises job


def outcome_hold_reason(outcome: Outcome, note: str | None) -> str:
    """The reason recorded with the hold a contact's outcome placed."""
    return f"{outcome.value} in a contact" + (f": {note}" if note else "")


@dataclass(frozen=True)
class Hold:
    id: int
    case_pk: int
    case_id: str
    borrower_ref: str | None
    scope: HoldScope
    type: HoldType
    reason: str
    until: date | None
    created_by: int | None
    created_at: datetime
    lifted_at: datetime | None = None
    lifted_by: int | None = None
    lift_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def for_policy(self) -> ActiveHold:
        """The hold as the contact policy gate sees it."""
        return ActiveHold(self.type, self.until)


def check_hold(hold_type: HoldType, *, until: date | None, today: date) -> None:
    """InvalidInput unless a pause has an `until` after today and no other hold has one."""
    if hold_type is HoldType.PAUSE:
        if until is None:
            raise InvalidInput("A pause needs an end", {"until": ["is required for a pause"]})
        if until <= today:
            raise InvalidInput("A pause ends in the future", {"until": [f"must be after today ({today})"]})
    elif until is not None:
        raise InvalidInput("Only a pause ends by date",
                           {"until": [f"a {hold_type.value} hold lasts until it is lifted"]})


def may_lift(viewer: Viewer, hold: Hold) -> bool:
    """Admins lift any hold; an agent (on its own case) a dispute or a pause."""
    return viewer.is_admin or hold.type in AGENT_LIFTABLE

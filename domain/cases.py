"""Cases: statuses, priorities, the one transition table of the workflow, the case and its history."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.promises import Promise
from domain.users import Team
from domain.viewer import Viewer


class CaseStatus(str, enum.Enum):
    PENDING = "Pending"
    IN_PROGRESS = "In Progress"
    RESOLVED = "Resolved"
    ESCALATED = "Escalated"


class Priority(str, enum.Enum):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"


OPEN_STATUSES = frozenset({CaseStatus.PENDING, CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED})

# from-status -> the statuses it may move to. Reopening (Resolved -> In Progress) is admin only.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.PENDING: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.ESCALATED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED, CaseStatus.ESCALATED}),
    CaseStatus.ESCALATED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.IN_PROGRESS}),
}
ADMIN_ONLY_TRANSITIONS = frozenset({(CaseStatus.RESOLVED, CaseStatus.IN_PROGRESS)})


def allowed_transitions(current: CaseStatus, *, is_admin: bool) -> list[CaseStatus]:
    """The statuses `current` may move to for this kind of caller, in a stable order."""
    return [s for s in CaseStatus if s in TRANSITIONS[current]
            and (is_admin or (current, s) not in ADMIN_ONLY_TRANSITIONS)]


class HistoryKind(str, enum.Enum):
    STATUS = "status"
    ASSIGNMENT = "assignment"
    PAYMENT = "payment"  # a payment (to: its amount) or its reversal (from: its amount)
    PROMISE = "promise"  # a promise taken (to: open) or closed (from: open, to: how)
    CONTACT = "contact"  # a contact recorded (to: "channel direction: outcome")
    HOLD = "hold"  # a hold placed (to: its type) or lifted (from: its type)


@dataclass(frozen=True)
class Case:
    """A processed case as the workflow and the API see it."""

    id: int
    case_id: str
    bank_code: str
    borrower_name: str
    loan_amount: Decimal
    due_amount: Decimal
    days_past_due: int
    priority: Priority
    region: str
    team: Team
    status: CaseStatus
    assigned_to: int | None
    amount_recovered: Decimal | None
    version: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    borrower_ref: str | None = None  # the bank's customer id
    timezone: str | None = None  # IANA name; None: the contact policy's default
    promise: Promise | None = None  # the open promise to pay
    on_hold: bool = False  # an active hold covers the case or its borrower

    @property
    def balance(self) -> Decimal:
        """What is still due: due_amount − amount_recovered."""
        return self.due_amount - (self.amount_recovered or Decimal(0))


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a case's history: a status change, an assignment between user ids, a payment
    or its reversal, a promise taken or closed."""

    at: datetime
    by: int | None
    kind: HistoryKind
    from_value: str | int | None
    to_value: str | int | None
    comment: str | None


def may_handle(viewer: Viewer, case: Case) -> bool:
    """Admins handle every case; anyone else only the cases assigned to them."""
    return viewer.is_admin or case.assigned_to == viewer.user_id

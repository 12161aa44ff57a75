"""Cases: statuses, priorities and the one transition table of the workflow."""
from __future__ import annotations

import enum


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

"""Contacts: every attempt to reach a borrower, made now or reported, as the log keeps it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from domain.contact_policy import Channel, Decision, Direction, Outcome, PastContact, Reason
from domain.errors import Conflict, InvalidInput

MAX_NOTE_LENGTH = 2000  # a contact's note, made now, reported or in a dialer's log


@dataclass(frozen=True)
class NewContact:
    """A contact to record: `at` None for one being made now (checked by the policy), else a report."""

    channel: Channel
    direction: Direction
    outcome: Outcome
    at: datetime | None = None
    note: str | None = None
    override_reason: str | None = None


@dataclass(frozen=True)
class Contact:
    id: int
    case_pk: int
    case_id: str
    channel: Channel
    direction: Direction
    outcome: Outcome
    at: datetime
    policy_violations: tuple[Reason, ...]
    reported: bool
    created_by: int | None
    note: str | None = None
    override_reason: str | None = None

    @property
    def right_party(self) -> bool:
        return self.outcome.right_party

    def past(self) -> PastContact:
        """The contact as the policy gate counts it."""
        return PastContact(self.at, self.channel, self.direction, self.outcome)


class RecordedLog(NamedTuple):
    """What a dialer's log recorded: contacts, duplicates left out, recorded ones that broke a rule,
    and the rows whose outcome places a hold `(case_pk, outcome, note)`, in order per case."""

    recorded: int
    duplicates: int
    violations: int
    hold_rows: list[tuple[int, Outcome, str | None]]


def check_report(at: datetime, now: datetime) -> None:
    """A reported contact happened: InvalidInput for an `at` without offset or in the future."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("A time without offset",
                           {"at": ["must carry a UTC offset, like 2026-12-03T14:05:00Z"]})
    if at > now:
        raise InvalidInput("A contact in the future",
                           {"at": ["must not be in the future (a report of a past contact)"]})


class ContactRefused(Conflict):
    """409: the policy forbids the contact now; the problem lists why and from when it is allowed."""

    title = "Contact not allowed"

    def __init__(self, decision: Decision):
        when = decision.next_allowed_at.isoformat() if decision.next_allowed_at else None
        reasons = [reason.value for reason in decision.reasons]
        detail = f"the contact policy forbids this contact now ({', '.join(reasons)})"
        detail += f"; allowed from {when}" if when else "; not before a hold is lifted (or the policy changes)"
        super().__init__(detail, members={"reasons": reasons, "next_allowed_at": when})

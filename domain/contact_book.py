"""Contacts, the use cases: record one (made now, checked by the policy; or reported), ask whether
a case may be contacted, list a case's contacts.

A contact made now takes its case's lock first (FOR UPDATE), then its instant from the database's
clock (one clock for every web process), and is checked against the contacts recorded before it:
two callers at once queue on the lock, so the second sees the first call, and the last call of
an allowance is never spent twice. A reported contact (a dialer's log) is a fact: always
recorded, with the rules it broke.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from domain.case_queries import get_case, locked_case
from domain.cases import Case
from domain.contact_policy import Channel, ContactPolicy, Decision, Direction, decide, lookback, violations
from domain.contact_settings import current_rules
from domain.contacts import Contact, ContactRefused, NewContact, check_report
from domain.errors import Forbidden
from domain.events import CollectingChanged
from domain.hold_book import hold_for_outcome
from domain.viewer import Viewer

if TYPE_CHECKING:
    from domain.unit_of_work import UnitOfWork


def contact_eligibility(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, channel: Channel,
                        at: datetime) -> Decision:
    """Whether an outbound contact on `channel` at `at` is allowed, why not, and from when."""
    case = get_case(uow, case_pk, viewer)
    return _decide(uow, case, current_rules(uow).for_bank(case.bank_code), channel, at)


def record_contact(uow: UnitOfWork, case_pk: int, viewer: Viewer, contact: NewContact) -> tuple[Contact, bool]:
    """Record a contact; returns (the contact, True when new). A report already recorded (same
    case, instant, channel, direction, outcome) comes back as it was, nothing written.

    Made now (`at` None): an outbound contact the policy forbids is ContactRefused (409), unless an
    admin gives an override_reason: then it is recorded with the rules it broke. Reported: always
    recorded, its violations judged on what had happened by its `at`.
    """
    if contact.override_reason is not None and not viewer.is_admin:
        raise Forbidden("only an admin may override the contact policy")
    case = locked_case(uow, case_pk, viewer)
    policy = current_rules(uow).for_bank(case.bank_code)
    # read once the lock is held: a caller that queued behind another's call is judged after it
    now = uow.contacts.now()
    if contact.at is None:
        at = now
        if contact.direction is Direction.OUTBOUND:
            decision = _decide(uow, case, policy, contact.channel, at)
            if not decision.allowed and contact.override_reason is None:
                raise ContactRefused(decision)
            broken = decision.reasons
        else:  # the borrower called: the policy governs the collector's contacts only
            broken = ()
    else:
        check_report(contact.at, now)
        at = contact.at
        earlier, holds = uow.contacts.gate_inputs(case, since=at - lookback(policy), until=at)
        broken = violations(policy, earlier, holds, case.timezone, contact.channel, contact.direction, at)
    recorded = uow.contacts.add(case, contact, at=at, violations=broken, reported=contact.at is not None,
                                by=viewer.user_id)
    if recorded is None:  # the same report again
        return uow.contacts.find(case.id, contact, at=at), False
    hold_for_outcome(uow, case, contact.outcome, by=viewer.user_id, note=contact.note)
    uow.record(CollectingChanged("contact"))
    uow.commit()
    return recorded, True


def list_contacts(uow: UnitOfWork, case_pk: int, viewer: Viewer, *, after: tuple | None,
                  limit: int) -> list[Contact]:
    """The case's contacts, oldest first (by `at`, then id), after the keyset `after` (at, id)."""
    get_case(uow, case_pk, viewer)
    return uow.contacts.list(case_pk, after=after, limit=limit)


def _decide(uow: UnitOfWork, case: Case, policy: ContactPolicy, channel: Channel, at: datetime) -> Decision:
    contacts, holds = uow.contacts.gate_inputs(case, since=at - lookback(policy), until=at)
    return decide(policy, contacts, holds, case.timezone, channel, at)

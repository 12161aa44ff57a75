"""In-memory contacts, holds and contact policy for FakeUnitOfWork (like store/contacts.py,
store/holds.py, store/contact_policy.py: the same answers, with no database)."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from domain.cases import Case
from domain.contact_policy import ActiveHold, HoldType, PastContact, Reason
from domain.contacts import Contact, NewContact
from domain.holds import PAUSE_ENDED, Hold, HoldScope


class _Store:
    def __init__(self, uow):
        self._uow = uow

    @property
    def _t(self):
        return self._uow.tables


class FakeContactStore(_Store):
    def add(self, case: Case, contact: NewContact, *, at: datetime, violations: Sequence[Reason], reported: bool,
            by: int | None) -> Contact | None:
        if self.find(case.id, contact, at=at) is not None:  # contacts_identity_key
            return None
        contact_id = max(self._t.contacts, default=0) + 1
        self._t.contacts[contact_id] = Contact(
            contact_id, case.id, case.case_id, contact.channel, contact.direction, contact.outcome, at,
            tuple(violations), reported, by, contact.note, contact.override_reason if violations else None)
        return self._t.contacts[contact_id]

    def find(self, case_pk: int, contact: NewContact, *, at: datetime) -> Contact | None:
        return next((c for c in self._t.contacts.values() if (c.case_pk, c.at, c.channel, c.direction, c.outcome)
                     == (case_pk, at, contact.channel, contact.direction, contact.outcome)), None)

    def now(self) -> datetime:
        return self._uow.now

    def gate_inputs(self, case: Case, *, since: datetime, until: datetime) -> tuple[list[PastContact],
                                                                                  list[ActiveHold]]:
        contacts = [c.past() for c in self._t.contacts.values() if c.case_pk == case.id and since <= c.at <= until]
        held = [h.for_policy() for h in self._uow.holds._covering(case)
                if h.created_at <= until and (h.lifted_at is None or h.lifted_at > until)]
        return contacts, held

    def list(self, case_pk: int, *, after: tuple[datetime, int] | None, limit: int) -> list[Contact]:
        mine = sorted((c for c in self._t.contacts.values() if c.case_pk == case_pk), key=lambda c: (c.at, c.id))
        return [c for c in mine if after is None or (c.at, c.id) > after][:limit]


class FakeHoldStore(_Store):
    def add(self, case: Case, *, hold_type: HoldType, scope: HoldScope, reason: str, until: date | None,
            by: int | None) -> Hold | None:
        person = scope is HoldScope.BORROWER and case.borrower_ref is not None
        for h in self._t.holds.values():  # the two partial unique keys
            if h.active and h.type is hold_type:
                if not person and h.case_pk == case.id and (h.scope is HoldScope.CASE or h.borrower_ref is None):
                    return None
                if person and h.scope is HoldScope.BORROWER and (h.borrower_ref, self._bank(h)) == (
                        case.borrower_ref, case.bank_code):
                    return None
        hold_id = max(self._t.holds, default=0) + 1
        self._t.holds[hold_id] = Hold(hold_id, case.id, case.case_id, case.borrower_ref, scope, hold_type, reason,
                                      until, by, self._uow.now)
        return self._t.holds[hold_id]

    def get(self, hold_id: int) -> Hold | None:
        return self._t.holds.get(hold_id)

    def lift(self, hold_id: int, *, by: int | None, reason: str) -> Hold | None:
        hold = self._t.holds[hold_id]
        if not hold.active:
            return None
        self._t.holds[hold_id] = replace(hold, lifted_at=self._uow.now, lifted_by=by, lift_reason=reason)
        return self._t.holds[hold_id]

    def covering(self, case: Case) -> list[Hold]:
        return [h for h in self._covering(case) if h.active]

    def list(self, case: Case, *, active: bool | None, after_id: int | None, limit: int) -> list[Hold]:
        return [h for h in self._covering(case) if (active is None or h.active == active)
                and (after_id is None or h.id > after_id)][:limit]

    def lift_ended_pauses(self, as_of: date) -> int:
        ended = [h for h in self._t.holds.values() if h.active and h.type is HoldType.PAUSE and h.until < as_of]
        for h in ended:
            self._t.holds[h.id] = replace(h, lifted_at=self._uow.now, lift_reason=PAUSE_ENDED)
        return len(ended)

    def _covering(self, case: Case) -> list[Hold]:
        return [h for _, h in sorted(self._t.holds.items()) if h.case_pk == case.id or (
            h.scope is HoldScope.BORROWER and h.borrower_ref is not None and h.borrower_ref == case.borrower_ref
            and self._bank(h) == case.bank_code)]

    def _bank(self, hold: Hold) -> str:
        return self._t.cases[hold.case_pk].bank_code


class FakeContactPolicyStore(_Store):
    def get(self) -> dict | None:
        return copy.deepcopy(self._t.contact_policy)

    def put(self, document: dict, *, by: int | None) -> None:
        self._t.contact_policy = copy.deepcopy(document)

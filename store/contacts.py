"""The contact log: record a contact, find one, a case's recent contacts for the gate, a case's list."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, null, select, tuple_, union_all
from sqlalchemy.dialects.postgresql import insert

from domain.cases import Case
from domain.contact_policy import ActiveHold, Channel, Direction, HoldType, Outcome, PastContact, Reason
from domain.contacts import Contact, NewContact
from store.holds import covering_at
from store.tables import cases_processed, contacts, holds

_ct = contacts.c
_h = holds.c
_CONTACT = select(contacts, cases_processed.c.case_id).join(cases_processed, cases_processed.c.id == _ct.case_pk)


def _to_contact(row, case_id: str | None = None) -> Contact:
    return Contact(
        id=row.id, case_pk=row.case_pk, case_id=case_id or row.case_id, channel=Channel(row.channel),
        direction=Direction(row.direction), outcome=Outcome(row.outcome), at=row.at,
        policy_violations=tuple(Reason(reason) for reason in row.policy_violations), reported=row.reported,
        created_by=row.created_by, note=row.note, override_reason=row.override_reason,
    )


def _identity(case_pk: int, contact: NewContact, at: datetime) -> list:
    return [_ct.case_pk == case_pk, _ct.at == at, _ct.channel == contact.channel.value,
            _ct.direction == contact.direction.value, _ct.outcome == contact.outcome.value]


class ContactStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, case: Case, contact: NewContact, *, at: datetime, violations: Sequence[Reason], reported: bool,
            by: int | None) -> Contact | None:
        """Insert the contact, unless the same one is recorded (contacts_identity_key; then None)."""
        row = self.conn.execute(
            insert(contacts).values(
                case_pk=case.id, at=at, channel=contact.channel.value, direction=contact.direction.value,
                outcome=contact.outcome.value, right_party=contact.outcome.right_party,
                policy_violations=[reason.value for reason in violations], reported=reported,
                override_reason=contact.override_reason if violations else None, note=contact.note,
                created_by=by, created_at=func.statement_timestamp(),
            ).on_conflict_do_nothing(index_elements=[_ct.case_pk, _ct.at, _ct.channel, _ct.direction, _ct.outcome])
            .returning(contacts)
        ).first()
        return _to_contact(row, case.case_id) if row else None

    def find(self, case_pk: int, contact: NewContact, *, at: datetime) -> Contact | None:
        row = self.conn.execute(_CONTACT.where(*_identity(case_pk, contact, at))).first()
        return _to_contact(row) if row else None

    def now(self) -> datetime:
        return self.conn.execute(select(func.clock_timestamp())).scalar_one()

    def gate_inputs(self, case: Case, *, since: datetime, until: datetime) -> tuple[list[PastContact],
                                                                                  list[ActiveHold]]:
        """The case's contacts of the gate's lookback (a range of contacts_identity_key) and the holds
        covering it at `until`, in one statement: one round trip for what the gate reads."""
        # a hold's row has no contact (at is NULL); a contact's row no hold
        held = select(null(), null(), null(), null(), _h.type, _h.until).where(covering_at(case, until))
        rows = self.conn.execute(union_all(
            select(_ct.at, _ct.channel, _ct.direction, _ct.outcome, null(), null())
            .where(_ct.case_pk == case.id, _ct.at >= since, _ct.at <= until), held))
        contacts, active = [], []
        for at, channel, direction, outcome, hold_type, hold_until in rows:
            if at is None:
                active.append(ActiveHold(HoldType(hold_type), hold_until))
            else:
                contacts.append(PastContact(at, Channel(channel), Direction(direction), Outcome(outcome)))
        return contacts, active

    def list(self, case_pk: int, *, after: tuple[datetime, int] | None, limit: int) -> list[Contact]:
        query = _CONTACT.where(_ct.case_pk == case_pk)
        if after is not None:
            query = query.where(tuple_(_ct.at, _ct.id) > tuple_(*after))
        return [_to_contact(row) for row in self.conn.execute(query.order_by(_ct.at, _ct.id).limit(limit))]

"""The contact and hold use cases (domain/contact_book.py, domain/hold_book.py) against the
in-memory unit of work: the gate applied to contacts made now and reported, holds and their lifts."""
from __future__ import annotations

from datetime import timedelta

import pytest

from domain import contact_book, contact_settings, hold_book
from domain.contact_policy import Channel, Direction, HoldType, Outcome, Reason
from domain.contacts import ContactRefused, NewContact
from domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from domain.events import CollectingChanged
from domain.holds import HoldScope
from domain.viewer import Viewer

from .fakes import START, FakeUnitOfWork

ADMIN = Viewer(user_id=1, is_admin=True)
AGENT = Viewer(user_id=7, is_admin=False)
TODAY = START.date()  # 12:00 UTC: 07:00 in New York (EST), before its window; 12:00 in UTC
CALL = NewContact(Channel.CALL, Direction.OUTBOUND, Outcome.NO_ANSWER)


def at(minutes_before: int) -> NewContact:
    return NewContact(Channel.CALL, Direction.OUTBOUND, Outcome.NO_ANSWER, at=START - timedelta(minutes=minutes_before))


@pytest.fixture
def uow():
    return FakeUnitOfWork()


def test_a_call_made_now_before_the_window_is_refused_with_nothing_recorded(uow):
    case = uow.given_case(assigned_to=AGENT.user_id, timezone="America/New_York")
    with pytest.raises(ContactRefused) as refused:
        contact_book.record_contact(uow, case.id, AGENT, CALL)
    assert refused.value.members == {"reasons": ["outside_hours"], "next_allowed_at": "2026-03-01T13:00:00+00:00"}
    assert uow.tables.contacts == {} and uow.commits == 0


def test_an_admins_override_records_the_rules_it_broke_and_an_agents_is_forbidden(uow):
    case = uow.given_case(assigned_to=AGENT.user_id, timezone="America/New_York")
    with pytest.raises(Forbidden):
        contact_book.record_contact(uow, case.id, AGENT, NewContact(**{**CALL.__dict__, "override_reason": "x"}))
    contact, new = contact_book.record_contact(uow, case.id, ADMIN,
                                               NewContact(**{**CALL.__dict__, "override_reason": "asked"}))
    assert new and contact.policy_violations == (Reason.OUTSIDE_HOURS,) and contact.override_reason == "asked"
    assert uow.published == [CollectingChanged("contact")]


def test_a_reported_contact_is_recorded_once_with_its_violations_judged_on_what_came_before(uow):
    case = uow.given_case(assigned_to=AGENT.user_id, timezone="UTC")
    for minutes in range(10, 80, 10):
        contact_book.record_contact(uow, case.id, AGENT, at(minutes))
    eighth, new = contact_book.record_contact(uow, case.id, AGENT, at(5))
    assert new and eighth.policy_violations == (Reason.CALL_FREQUENCY,) and eighth.reported
    again, new = contact_book.record_contact(uow, case.id, AGENT, at(5))
    assert (again, new) == (eighth, False) and len(uow.tables.contacts) == 8
    earliest = uow.contacts.list(case.id, after=None, limit=1)[0]
    assert earliest.policy_violations == ()  # the first call broke nothing, whatever came after
    with pytest.raises(InvalidInput):
        contact_book.record_contact(uow, case.id, AGENT, at(-1))  # in the future


def test_a_cease_requested_puts_every_case_of_the_borrower_on_hold_in_the_contacts_transaction(uow):
    one = uow.given_case(assigned_to=AGENT.user_id, timezone="UTC", borrower_ref="P")
    two = uow.given_case(timezone="UTC", borrower_ref="P")
    reported = NewContact(Channel.CALL, Direction.INBOUND, Outcome.CEASE_REQUESTED, at=START - timedelta(hours=1))
    contact_book.record_contact(uow, one.id, AGENT, reported)
    assert [h.type for h in uow.holds.covering(uow.cases.get(two.id))] == [HoldType.CEASE]
    assert uow.cases.get(two.id).on_hold
    decision = contact_book.contact_eligibility(uow, two.id, ADMIN, channel=Channel.EMAIL, at=START)
    assert (decision.allowed, decision.reasons, decision.next_allowed_at) == (False, (Reason.HOLD_CEASE,), None)


def test_holds_one_active_per_type_and_scope_lifted_by_whom_the_contract_allows(uow):
    case = uow.given_case(assigned_to=AGENT.user_id, borrower_ref="P")
    bankruptcy = hold_book.place_hold(uow, case.id, AGENT, hold_type=HoldType.BANKRUPTCY, reason="ch. 7",
                                      until=None, scope=None, today=TODAY)
    assert bankruptcy.scope is HoldScope.BORROWER
    with pytest.raises(Conflict):
        hold_book.place_hold(uow, case.id, ADMIN, hold_type=HoldType.BANKRUPTCY, reason="again", until=None,
                             scope=None, today=TODAY)
    with pytest.raises(Forbidden):
        hold_book.lift_hold(uow, bankruptcy.id, AGENT, reason="discharged")
    assert hold_book.lift_hold(uow, bankruptcy.id, ADMIN, reason="discharged").lift_reason == "discharged"
    with pytest.raises(Conflict):
        hold_book.lift_hold(uow, bankruptcy.id, ADMIN, reason="again")
    with pytest.raises(NotFound):
        hold_book.lift_hold(uow, 999, ADMIN, reason="x")


def test_a_pause_needs_a_future_until_and_ends_after_its_last_day(uow):
    case = uow.given_case()
    with pytest.raises(InvalidInput):
        hold_book.place_hold(uow, case.id, ADMIN, hold_type=HoldType.PAUSE, reason="r", until=TODAY, scope=None,
                             today=TODAY)
    pause = hold_book.place_hold(uow, case.id, ADMIN, hold_type=HoldType.PAUSE, reason="r",
                                 until=TODAY + timedelta(days=2), scope=None, today=TODAY)
    assert hold_book.lift_ended_pauses(uow, TODAY + timedelta(days=2)) == 0
    assert hold_book.lift_ended_pauses(uow, TODAY + timedelta(days=3)) == 1
    assert not uow.holds.get(pause.id).active


def test_the_policy_in_force_is_the_stored_one_with_each_banks_overrides(uow):
    assert contact_settings.current_rules(uow).for_bank("ANY").window_end.hour == 21
    contact_settings.replace_rules(uow, {"by_bank": {"BANKX": {"window_end": "19:00"}}}, by=ADMIN.user_id)
    rules = contact_settings.current_rules(uow)
    assert (rules.for_bank("BANKX").window_end.hour, rules.for_bank("OTHER").window_end.hour) == (19, 21)
    with pytest.raises(InvalidInput) as invalid:
        contact_settings.replace_rules(uow, {"by_bank": {"B": {"window_start": "22:00"}}}, by=ADMIN.user_id)
    assert "by_bank.B.window_start" in invalid.value.errors

"""The summary's contact figures: attempts, right-party rate, holds placed and violations in the window."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.analytics import collecting_window, summarize
from domain.contact_figures import ContactTotals, contacted_in
from domain.contact_policy import Channel, Direction, HoldType, Outcome, Reason
from domain.contacts import Contact
from domain.holds import Hold, HoldScope

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def contact(at, direction=Direction.OUTBOUND, outcome=Outcome.NO_ANSWER, violations=()) -> Contact:
    return Contact(1, 1, "C-1", Channel.CALL, direction, outcome, at, tuple(violations), True, None)


def hold(created_at, kind=HoldType.DISPUTE) -> Hold:
    return Hold(1, 1, "C-1", None, HoldScope.CASE, kind, "r", None, None, created_at)


def test_attempts_are_outbound_contacts_in_the_window_and_right_party_those_that_reached_the_person():
    window = collecting_window(AS_OF)
    contacts = [contact(AS_OF - timedelta(days=1), outcome=Outcome.CONVERSATION),
                contact(AS_OF - timedelta(days=2)),
                contact(AS_OF - timedelta(days=3), direction=Direction.INBOUND, outcome=Outcome.CONVERSATION),
                contact(AS_OF - timedelta(days=30), outcome=Outcome.CONVERSATION),  # the window's open end
                contact(AS_OF - timedelta(days=5), violations=[Reason.OUTSIDE_HOURS])]
    totals = contacted_in(window, contacts, [hold(AS_OF - timedelta(days=1)), hold(AS_OF - timedelta(days=40)),
                                             hold(AS_OF, HoldType.CEASE)])
    assert totals == ContactTotals(attempts=3, right_party=1, violations=1,
                                   holds={HoldType.DISPUTE: 1, HoldType.CEASE: 1})


def test_the_right_party_rate_is_null_without_attempts_and_every_hold_type_is_shown():
    figures = summarize([], [], AS_OF, contacts=ContactTotals(holds={HoldType.PAUSE: 2}))["collecting"]
    assert figures["contacts"] == {"attempts": 0, "right_party": 0, "right_party_rate": None}
    assert figures["holds"] == {"dispute": 0, "cease": 0, "bankruptcy": 0, "attorney": 0, "pause": 2}
    rated = summarize([], [], AS_OF, contacts=ContactTotals(attempts=3, right_party=1))["collecting"]
    assert rated["contacts"]["right_party_rate"] == 0.3333

"""The contact policy gate (domain/contact_policy.py): hours, call frequency, conversations, holds, DST."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.contact_policy import (
    ActiveHold,
    Channel,
    ContactPolicy,
    Decision,
    Direction,
    HoldType,
    Outcome,
    PastContact,
    Reason,
    decide,
    lookback,
)
from domain.errors import InvalidInput

NY = "America/New_York"
KOLKATA = "Asia/Kolkata"
POLICY = ContactPolicy()
R = Reason


def when(text: str, zone: str = NY, fold: int = 0) -> datetime:
    """The UTC instant at which the clock in `zone` reads `text` (fold 1: the repeat of a fall-back hour)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def contact(at: datetime, outcome=Outcome.NO_ANSWER, direction=Direction.OUTBOUND, channel=Channel.CALL):
    return PastContact(at=at, channel=channel, direction=direction, outcome=outcome)


def calls(*texts: str, zone: str = NY, outcome=Outcome.NO_ANSWER) -> list[PastContact]:
    return [contact(when(text, zone), outcome) for text in texts]


def gate(at, *, contacts=(), holds=(), timezone=NY, channel=Channel.CALL, policy=POLICY) -> Decision:
    return decide(policy, contacts, holds, timezone, channel, at)


# a week of calls as in the regulation's commentary: Wednesday, April 1 to Tuesday, April 7 (2026 too)
WEEK = calls("2026-04-01 20:00", "2026-04-02 09:00", "2026-04-03 09:00", "2026-04-04 09:00",
             "2026-04-05 09:00", "2026-04-06 09:00", "2026-04-07 09:00")


# --- hours ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("zone", [NY, KOLKATA])
@pytest.mark.parametrize("clock, reasons, next_clock", [
    ("2026-04-07 07:59", (R.OUTSIDE_HOURS,), "2026-04-07 08:00"),
    ("2026-04-07 08:00", (), "2026-04-07 08:00"),
    ("2026-04-07 20:59", (), "2026-04-07 20:59"),
    ("2026-04-07 21:00", (R.OUTSIDE_HOURS,), "2026-04-08 08:00"),
    ("2026-04-07 00:00", (R.OUTSIDE_HOURS,), "2026-04-07 08:00"),
])
def test_the_window_runs_from_0800_up_to_but_not_including_2100_local(zone, clock, reasons, next_clock):
    assert gate(when(clock, zone), timezone=zone) == Decision(not reasons, reasons, when(next_clock, zone))


def test_the_same_instant_is_inside_the_window_in_one_zone_and_outside_in_another():
    at = utc("2026-04-07 13:00")  # 09:00 in New York, 18:30 in Kolkata, 06:00 in Los Angeles
    assert gate(at, timezone=NY).allowed and gate(at, timezone=KOLKATA).allowed
    assert gate(at, timezone="America/Los_Angeles").next_allowed_at == utc("2026-04-07 15:00")


# --- daylight saving time in New York (2026: spring forward March 8, fall back November 1) ---------

def test_on_the_spring_forward_day_the_window_is_0800_to_2100_daylight_time():
    assert gate(utc("2026-03-08 11:59")) == Decision(False, (R.OUTSIDE_HOURS,), utc("2026-03-08 12:00"))
    assert gate(utc("2026-03-08 12:00")).allowed
    assert gate(utc("2026-03-09 00:59")).allowed
    assert gate(utc("2026-03-09 01:00")) == Decision(False, (R.OUTSIDE_HOURS,), utc("2026-03-09 12:00"))


def test_a_call_refused_the_evening_before_spring_forward_may_be_placed_at_0800_daylight_time():
    at = when("2026-03-07 21:00")  # 02:00 UTC: the window opened at 13:00 UTC that day
    assert gate(at).next_allowed_at == utc("2026-03-08 12:00")


def test_on_the_fall_back_day_the_window_is_0800_to_2100_standard_time():
    assert gate(utc("2026-11-01 12:59")) == Decision(False, (R.OUTSIDE_HOURS,), utc("2026-11-01 13:00"))
    assert gate(utc("2026-11-01 13:00")).allowed
    assert gate(utc("2026-11-02 02:00")) == Decision(False, (R.OUTSIDE_HOURS,), utc("2026-11-02 13:00"))


def test_a_call_refused_the_evening_before_fall_back_may_be_placed_at_0800_standard_time():
    at = when("2026-10-31 21:00")  # 01:00 UTC: the window opened at 12:00 UTC that day
    assert gate(at).next_allowed_at == utc("2026-11-01 13:00")


def test_a_window_opening_in_the_skipped_hour_opens_when_the_clock_jumps_to_0300():
    policy = ContactPolicy(window_start=time(2, 30))
    assert gate(when("2026-03-08 01:00"), policy=policy).next_allowed_at == when("2026-03-08 03:00")
    assert gate(when("2026-03-08 03:00"), policy=policy).allowed


def test_a_window_opening_in_the_repeated_hour_opens_at_its_first_pass_and_closes_while_it_repeats():
    policy = ContactPolicy(window_start=time(1, 30))
    assert gate(when("2026-11-01 01:00"), policy=policy).next_allowed_at == utc("2026-11-01 05:30")
    assert gate(when("2026-11-01 01:45"), policy=policy).allowed
    repeat = gate(when("2026-11-01 01:10", fold=1), policy=policy)
    assert repeat == Decision(False, (R.OUTSIDE_HOURS,), utc("2026-11-01 06:30"))  # 01:30 standard time


def test_a_window_closing_in_the_repeated_hour_reopens_when_the_clock_falls_back():
    policy = ContactPolicy(window_start=time(0), window_end=time(1, 30))
    at = when("2026-11-01 01:40")  # daylight time; at 06:00 UTC the clock turns back to 01:00
    assert gate(at, policy=policy) == Decision(False, (R.OUTSIDE_HOURS,), utc("2026-11-01 06:00"))


def test_local_days_of_the_call_rules_run_across_a_dst_change():
    spoken = [contact(when("2026-03-05 10:00"), Outcome.CONVERSATION)]  # standard time; D+7 is in daylight
    assert gate(when("2026-03-11 20:00"), contacts=spoken).next_allowed_at == utc("2026-03-12 12:00")
    week = calls(*(f"2026-03-0{day} 09:00" for day in range(2, 9)))
    assert gate(when("2026-03-08 20:00"), contacts=week).next_allowed_at == utc("2026-03-09 12:00")


# --- call frequency ------------------------------------------------------------------------------

def test_the_seventh_call_in_seven_days_is_allowed_and_the_eighth_refused():
    assert gate(when("2026-04-07 10:00"), contacts=WEEK[:6]).allowed
    assert gate(when("2026-04-07 10:00"), contacts=WEEK) == Decision(
        False, (R.CALL_FREQUENCY,), when("2026-04-08 08:00"))


def test_the_eighth_call_may_be_placed_on_the_day_the_first_leaves_the_window_before_its_hour():
    # the first call was at 20:00 on April 1: a rolling 168 hours would refuse until 20:00 on April 8
    assert gate(when("2026-04-08 08:00"), contacts=WEEK).allowed
    assert gate(when("2026-04-07 23:59"), contacts=WEEK).next_allowed_at == when("2026-04-08 08:00")


def test_the_window_must_leave_behind_every_call_but_six_before_a_call_is_allowed():
    history = calls("2026-04-01 09:00", *(f"2026-04-03 {hour}:00" for hour in range(10, 17)))
    assert gate(when("2026-04-08 09:00"), contacts=history) == Decision(
        False, (R.CALL_FREQUENCY,), when("2026-04-10 08:00"))


def test_calls_not_connected_do_not_count():
    history = WEEK[:6] + calls("2026-04-07 09:30", outcome=Outcome.NOT_CONNECTED)
    assert gate(when("2026-04-07 10:00"), contacts=history).allowed


@pytest.mark.parametrize("outcome", [Outcome.NO_ANSWER, Outcome.VOICEMAIL, Outcome.WRONG_PARTY])
def test_unanswered_calls_voicemails_and_wrong_party_calls_count(outcome):
    history = WEEK[:6] + calls("2026-04-07 09:30", outcome=outcome)
    assert gate(when("2026-04-07 10:00"), contacts=history).reasons == (R.CALL_FREQUENCY,)


def test_inbound_calls_and_other_channels_do_not_count_toward_call_frequency():
    history = WEEK[:6] + [contact(when("2026-04-07 09:30"), direction=Direction.INBOUND),
                          contact(when("2026-04-07 09:31"), channel=Channel.SMS),
                          contact(when("2026-04-07 09:32"), channel=Channel.VISIT)]
    assert gate(when("2026-04-07 10:00"), contacts=history).allowed


def test_contacts_after_at_are_not_counted_so_a_reported_call_is_judged_by_what_came_before():
    assert gate(when("2026-04-07 08:30"), contacts=WEEK).allowed  # the seventh call came at 09:00


# --- after a conversation ------------------------------------------------------------------------

def test_an_inbound_conversation_blocks_outbound_calls_through_d_plus_6_and_d_plus_7_is_allowed():
    spoken = [contact(when("2026-04-01 10:00"), Outcome.CONVERSATION, Direction.INBOUND)]
    assert gate(when("2026-04-01 10:05"), contacts=spoken).reasons == (R.AFTER_CONVERSATION,)
    assert gate(when("2026-04-07 20:59"), contacts=spoken) == Decision(
        False, (R.AFTER_CONVERSATION,), when("2026-04-08 08:00"))
    assert gate(when("2026-04-08 08:00"), contacts=spoken).allowed


@pytest.mark.parametrize("outcome", list(Outcome))
def test_only_a_right_party_outcome_of_a_call_is_a_conversation(outcome):
    history = [contact(when("2026-04-01 10:00"), outcome)]
    assert outcome.right_party is (outcome.value in {"conversation", "promise_taken", "dispute_raised",
                                                     "refused", "cease_requested"})
    blocked = R.AFTER_CONVERSATION in gate(when("2026-04-02 10:00"), contacts=history).reasons
    assert blocked is outcome.right_party


def test_a_conversation_late_in_the_local_evening_counts_on_that_local_day():
    spoken = [contact(when("2026-04-01 23:30"), Outcome.CONVERSATION)]  # April 2 in UTC
    assert gate(when("2026-04-08 08:00"), contacts=spoken).allowed


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.VISIT])
def test_a_conversation_by_another_channel_does_not_block_calls(channel):
    spoken = [contact(when("2026-04-01 10:00"), Outcome.CONVERSATION, channel=channel)]
    assert gate(when("2026-04-02 10:00"), contacts=spoken).allowed


def test_a_conversation_about_case_a_does_not_block_case_b_of_the_same_borrower():
    case_a = [contact(when("2026-04-01 10:00"), Outcome.CONVERSATION, Direction.INBOUND)]
    case_b: list[PastContact] = []  # the caller passes each case's own contacts: counting is per debt
    assert not gate(when("2026-04-02 10:00"), contacts=case_a).allowed
    assert gate(when("2026-04-02 10:00"), contacts=case_b).allowed


def test_no_days_after_a_conversation_blocks_nothing_and_no_calls_a_week_allows_none():
    spoken = [contact(when("2026-04-01 10:00"), Outcome.CONVERSATION)]
    assert gate(when("2026-04-01 10:05"), contacts=spoken, policy=ContactPolicy(days_after_conversation=0)).allowed
    assert gate(when("2026-04-01 10:05"), policy=ContactPolicy(calls_per_7_days=0)) == Decision(
        False, (R.CALL_FREQUENCY,), None)


# --- channels ------------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.VISIT])
def test_sms_email_and_visits_keep_to_the_hours_but_not_to_the_call_limits(channel):
    history = WEEK + [contact(when("2026-04-07 09:30"), Outcome.CONVERSATION)]
    assert gate(when("2026-04-07 10:00"), contacts=history, channel=channel).allowed
    assert gate(when("2026-04-07 21:00"), contacts=history, channel=channel) == Decision(
        False, (R.OUTSIDE_HOURS,), when("2026-04-08 08:00"))


def test_a_letter_keeps_to_no_hours_and_no_call_limits_but_to_holds():
    history = WEEK + [contact(when("2026-04-07 09:30"), Outcome.CONVERSATION)]
    assert gate(when("2026-04-07 23:00"), contacts=history, channel=Channel.LETTER).allowed
    held = gate(when("2026-04-07 23:00"), holds=[ActiveHold(HoldType.CEASE)], channel=Channel.LETTER)
    assert held == Decision(False, (R.HOLD_CEASE,), None)


# --- holds ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("hold, reason", [(HoldType.DISPUTE, R.HOLD_DISPUTE), (HoldType.CEASE, R.HOLD_CEASE),
                                          (HoldType.BANKRUPTCY, R.HOLD_BANKRUPTCY),
                                          (HoldType.ATTORNEY, R.HOLD_ATTORNEY)])
@pytest.mark.parametrize("channel", list(Channel))
def test_each_hold_until_lifted_gives_its_reason_on_every_channel_and_no_next_time(hold, reason, channel):
    assert gate(when("2026-04-07 10:00"), holds=[ActiveHold(hold)], channel=channel) == Decision(
        False, (reason,), None)


def test_a_pause_blocks_through_its_until_day_and_ends_at_the_next_window_start():
    pause = [ActiveHold(HoldType.PAUSE, until=date(2026, 4, 10))]
    assert gate(when("2026-04-10 20:00"), holds=pause) == Decision(
        False, (R.HOLD_PAUSE,), when("2026-04-11 08:00"))
    assert gate(when("2026-04-11 08:00"), holds=pause).allowed


def test_a_pause_ends_by_the_borrowers_local_date_not_the_utc_date():
    pause = [ActiveHold(HoldType.PAUSE, until=date(2026, 4, 10))]
    assert gate(utc("2026-04-11 00:30"), holds=pause, channel=Channel.LETTER).reasons == (R.HOLD_PAUSE,)
    assert gate(utc("2026-04-10 23:30"), holds=pause, channel=Channel.LETTER, timezone=KOLKATA).allowed


def test_of_two_pauses_the_later_decides_and_a_pause_without_end_lasts_until_lifted():
    pauses = [ActiveHold(HoldType.PAUSE, until=date(2026, 4, 10)), ActiveHold(HoldType.PAUSE, until=date(2026, 4, 12))]
    assert gate(when("2026-04-09 10:00"), holds=pauses).next_allowed_at == when("2026-04-13 08:00")
    open_ended = pauses + [ActiveHold(HoldType.PAUSE)]
    assert gate(when("2026-04-09 10:00"), holds=open_ended) == Decision(False, (R.HOLD_PAUSE,), None)


# --- several reasons -----------------------------------------------------------------------------

def test_several_reasons_are_listed_in_order_with_the_instant_all_are_gone():
    history = WEEK + [contact(when("2026-04-03 10:00"), Outcome.PROMISE_TAKEN, Direction.INBOUND)]
    holds = [ActiveHold(HoldType.PAUSE, until=date(2026, 4, 11)), ActiveHold(HoldType.DISPUTE)]
    at = when("2026-04-07 22:00")
    assert gate(at, contacts=history, holds=holds[:1]) == Decision(
        False, (R.OUTSIDE_HOURS, R.CALL_FREQUENCY, R.AFTER_CONVERSATION, R.HOLD_PAUSE), when("2026-04-12 08:00"))
    assert gate(at, contacts=history, holds=holds) == Decision(
        False, (R.OUTSIDE_HOURS, R.CALL_FREQUENCY, R.AFTER_CONVERSATION, R.HOLD_DISPUTE, R.HOLD_PAUSE), None)


def test_a_rule_lifting_at_midnight_waits_for_the_window_to_open():
    spoken = [contact(when("2026-04-01 10:00"), Outcome.CONVERSATION)]
    assert gate(when("2026-04-07 12:00"), contacts=spoken).next_allowed_at == when("2026-04-08 08:00")


def test_an_allowed_contact_is_allowed_from_at_itself_in_utc():
    at = datetime(2026, 4, 7, 10, 0, tzinfo=ZoneInfo(NY))
    decision = gate(at)
    assert decision == Decision(True, (), at) and decision.next_allowed_at.tzinfo is UTC


# --- the policy ----------------------------------------------------------------------------------

def test_a_bank_may_end_its_calls_at_1900():
    by_bank = {"B1": {"window_end": time(19)}}
    bank = POLICY.with_bank_overrides(by_bank, "B1")
    assert bank == ContactPolicy(window_end=time(19))
    assert gate(when("2026-04-07 18:59"), policy=bank).allowed
    assert gate(when("2026-04-07 19:00"), policy=bank) == Decision(
        False, (R.OUTSIDE_HOURS,), when("2026-04-08 08:00"))
    assert POLICY.with_bank_overrides(by_bank, "B2") == POLICY


def test_the_policys_default_time_zone_is_used_when_the_case_has_none():
    at = when("2026-04-07 07:30")  # 07:30 in New York is 08:30 in Halifax
    assert not gate(at, timezone=None).allowed
    assert gate(at, timezone=None, policy=ContactPolicy(timezone_default="America/Halifax")).allowed


NOT_A_ZONE = "is not an IANA time zone name (like America/Chicago)"


@pytest.mark.parametrize("settings_, errors", [
    ({"window_start": time(21)}, {"window_end": ["must be after window_start (21:00)"]}),
    ({"window_start": time(9), "window_end": time(8)}, {"window_end": ["must be after window_start (09:00)"]}),
    ({"timezone_default": "Mars/Olympus"}, {"timezone_default": [NOT_A_ZONE]}),
    ({"timezone_default": "America"}, {"timezone_default": [NOT_A_ZONE]}),  # a folder of zones
    ({"timezone_default": "localtime"}, {"timezone_default": [NOT_A_ZONE]}),  # the server's, not a place
    ({"calls_per_7_days": -1, "days_after_conversation": -2},
     {"calls_per_7_days": ["must be 0 or more"], "days_after_conversation": ["must be 0 or more"]}),
    ({"calls_per_7_days": 7.5, "window_end": "19:00"},
     {"calls_per_7_days": ["must be a whole number"], "window_end": ["must be a time of day (HH:MM)"]}),
])
def test_invalid_policies_are_refused_field_by_field(settings_, errors):
    with pytest.raises(InvalidInput) as refused:
        ContactPolicy(**settings_)
    assert refused.value.errors == errors


def test_invalid_bank_overrides_are_refused_under_by_bank():
    with pytest.raises(InvalidInput) as refused:
        POLICY.with_bank_overrides({"B1": {"window_start": time(22), "max_calls": 3}}, "B1")
    assert refused.value.errors == {"by_bank.B1.max_calls": ["is not a contact policy setting"]}
    with pytest.raises(InvalidInput) as refused:
        POLICY.with_bank_overrides({"B1": {"window_start": time(22), "calls_per_7_days": -1}}, "B1")
    assert refused.value.errors == {"by_bank.B1.window_start": ["must be before window_end (21:00)"],
                                    "by_bank.B1.calls_per_7_days": ["must be 0 or more"]}


def test_the_caller_passes_the_contacts_of_eight_days_by_default_and_more_after_a_longer_conversation_block():
    assert lookback(POLICY) == timedelta(days=8)  # within the 14 days
    assert lookback(ContactPolicy(days_after_conversation=20)) == timedelta(days=21)


def test_an_unknown_time_zone_or_a_time_without_offset_is_refused():
    with pytest.raises(InvalidInput) as refused:
        gate(when("2026-04-07 10:00"), timezone="Nowhere/Town")
    assert set(refused.value.errors) == {"timezone"}
    with pytest.raises(InvalidInput) as refused:
        gate(datetime(2026, 4, 7, 10, 0), timezone=NY)
    assert set(refused.value.errors) == {"at"}


# --- the property: next_allowed_at is exact ------------------------------------------------------

# days with an offset change in each zone, so that histories and windows straddle them
DST_DAYS = {NY: ["2026-03-08", "2026-11-01"], "Europe/London": ["2026-03-29", "2026-10-25"],
            "Australia/Lord_Howe": ["2026-04-05", "2026-10-04"], KOLKATA: ["2026-06-01"]}
HALF_HOURS = st.integers(0, 47).map(lambda n: time(n // 2, 30 * (n % 2)))


@st.composite
def situations(draw):
    zone = draw(st.sampled_from(sorted(DST_DAYS)))
    day = datetime.fromisoformat(draw(st.sampled_from(DST_DAYS[zone]))).replace(tzinfo=UTC)
    at = day + timedelta(minutes=draw(st.integers(-2 * 1440, 2 * 1440)))
    start, end = sorted(draw(st.lists(HALF_HOURS, min_size=2, max_size=2, unique=True)))
    policy = draw(st.sampled_from([POLICY, ContactPolicy(timezone_default=zone, window_start=start,
                                                         window_end=end, calls_per_7_days=draw(st.integers(0, 3)),
                                                         days_after_conversation=draw(st.integers(0, 3)))]))
    contacts = draw(st.lists(st.builds(
        PastContact, at=st.integers(0, 10 * 1440).map(lambda minutes: at - timedelta(minutes=minutes)),
        channel=st.sampled_from([Channel.CALL, Channel.CALL, Channel.SMS]), direction=st.sampled_from(Direction),
        outcome=st.sampled_from(Outcome)), max_size=6))
    holds = draw(st.lists(st.builds(
        ActiveHold, type=st.sampled_from([HoldType.PAUSE] * 4 + [HoldType.CEASE]),
        until=st.integers(-1, 2).map(lambda days: (at + timedelta(days=days)).date())), max_size=2))
    return policy, contacts, holds, zone, draw(st.sampled_from(Channel)), at


@settings(max_examples=60, deadline=None)
@given(situations())
def test_next_allowed_at_is_allowed_and_no_earlier_minute_is(situation):
    policy, contacts, holds, zone, channel, at = situation
    decision = decide(policy, contacts, holds, zone, channel, at)
    assert decision.allowed is (not decision.reasons)
    recent = [contact for contact in contacts if contact.at >= at - lookback(policy)]
    assert decide(policy, recent, holds, zone, channel, at) == decision
    if decision.next_allowed_at is None:
        assert not decision.allowed
        return
    assert decide(policy, contacts, holds, zone, channel, decision.next_allowed_at).allowed
    minute = at
    while minute < decision.next_allowed_at:
        assert not decide(policy, contacts, holds, zone, channel, minute).allowed, minute
        minute += timedelta(minutes=1)

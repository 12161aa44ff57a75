"""The rules of a dialer log's row, the holds its outcomes place and the lookback, with no database
(domain.dialer_logs.check_row, holds_to_place, lookback); the policy applied to a whole file is
tests/integration/test_dialer_log_rules.py's."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.contact_policy import ContactPolicy, HoldType, Outcome
from domain.contact_settings import ContactRules
from domain.dialer_logs import check_row, holds_to_place, lookback
from domain.holds import HoldScope

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
GOOD = {"case_id": "CASE-1", "channel": "call", "direction": "outbound", "outcome": "no_answer",
        "at": "2026-12-01T15:00:00Z", "note": None}


def row(**changes) -> list:
    values = {**GOOD, **changes}
    return [values[c] for c in ("case_id", "channel", "direction", "outcome", "at", "note")]


def problems(**changes) -> dict[str, str]:
    checked = check_row(row(**changes), NOW)
    assert checked.contact is None
    return {p.field: p.message for p in checked.problems}


def test_a_valid_row_is_normalized_trimmed_and_typed():
    checked = check_row(row(case_id=" CASE-1 ", channel=" SMS ", direction="Inbound", outcome=" Refused",
                            at=" 2026-12-01T10:00:00-05:00 ", note=" called back "), NOW)
    assert checked.problems == []
    assert tuple(checked.contact) == ("CASE-1", "sms", "inbound", "refused", datetime(2026, 12, 1, 15, tzinfo=UTC),
                                      "called back", True)


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_missing_or_empty_note_is_none(note):
    assert check_row(row(note=note), NOW).contact.note is None


def test_a_contact_at_the_jobs_start_is_not_in_the_future_and_a_microsecond_later_is():
    assert check_row(row(at=NOW.isoformat()), NOW).contact.at == NOW
    assert problems(at=(NOW + timedelta(microseconds=1)).isoformat()) == {
        "at": "must not be in the future (a report of a past contact)"}


@pytest.mark.parametrize("at", ["2026-12-01T15:00:00", "2026-12-01", "yesterday", "", 1764601200, None])
def test_an_at_without_offset_or_not_iso_8601_is_rejected(at):
    message = "is required" if at is None else "must be an ISO 8601 time with a UTC offset, like 2026-12-03T14:05:00Z"
    assert problems(at=at) == {"at": message}


def test_each_problem_of_a_row_is_reported_in_column_order():
    assert problems(case_id="", channel="fax", direction=None, outcome="hung_up", note="x" * 2001) == {
        "case_id": "must not be empty",
        "channel": "must be one of call, sms, email, letter, visit",
        "direction": "is required",
        "outcome": "must be one of no_answer, voicemail, not_connected, wrong_party, conversation, promise_taken, "
                   "dispute_raised, refused, cease_requested",
        "note": "must be at most 2000 characters",
    }


def test_the_case_id_of_a_rejected_row_is_kept_for_the_report():
    assert check_row(row(channel="fax"), NOW).case_id == "CASE-1"


# ---- holds and the lookback ---------------------------------------------------------------------

def test_dispute_and_cease_rows_place_the_holds_a_single_contact_would():
    assert holds_to_place([(1, Outcome.CEASE_REQUESTED, "stop"), (2, Outcome.DISPUTE_RAISED, None)]) == [
        (1, HoldType.CEASE, HoldScope.BORROWER, "cease_requested in a contact: stop"),
        (2, HoldType.DISPUTE, HoldScope.CASE, "dispute_raised in a contact")]


def test_the_lookback_is_the_longest_of_the_banks_policies():
    rules = ContactRules(ContactPolicy(), {"SLOW": {"days_after_conversation": 20}})
    assert lookback(rules) == timedelta(days=21)
    assert lookback(ContactRules()) == timedelta(days=8)

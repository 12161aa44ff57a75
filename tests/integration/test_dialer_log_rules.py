"""The dialer log's store judges a whole file set-based in SQL (store/dialer_rules.py); here it is held
to the pure gate, `contact_policy.violations`, row by row: examples of each rule, then a hypothesis
property over random timelines (stored contacts, file rows, duplicates, holds, zones across the
November DST change, a bank with its own policy).

A row is judged with what had happened by its instant: the case's stored contacts up to it (those
at the very same instant included, as the single contact route counts them) and the file's
earlier lines.
"""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from domain.contact_policy import ActiveHold, Channel, ContactPolicy, Direction, HoldType, Outcome, PastContact
from domain.contact_policy import violations as gate
from domain.contact_settings import ContactRules
from domain.dialer_logs import lookback

pytestmark = pytest.mark.usefixtures("clean_db")
RULES = ContactRules(ContactPolicy(), {
    "SLOW": {"window_start": time(8), "window_end": time(19), "calls_per_7_days": 3, "days_after_conversation": 2,
             "timezone_default": "America/Chicago"},
    "NONE": {"calls_per_7_days": 0, "days_after_conversation": 0},
    "LONG": {"days_after_conversation": 10, "timezone_default": "Asia/Kolkata"}})
NY = "America/New_York"
BASE = datetime(2026, 10, 20, tzinfo=UTC)  # clocks fall back in Europe on October 25, in the US on November 1


def at(day: int, hour: int = 14, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


class Log:
    """A file's rows (case_pk, at, channel, direction, outcome, note), contacts and holds stored before it."""

    def __init__(self, uow):
        self.uow, self.rows, self.stored, self.holds = uow, [], [], []

    def row(self, case_pk, when, channel="call", direction="outbound", outcome="no_answer", note=None):
        self.rows.append((case_pk, when, channel, direction, outcome, note))
        return self

    def store(self, case_pk, when, channel="call", direction="outbound", outcome="no_answer"):
        self.stored.append((case_pk, when, channel, direction, outcome))
        return self

    def hold(self, case_pk, hold_type, placed, lifted=None, until=None, scope="case"):
        self.holds.append((case_pk, hold_type, placed, lifted, until, scope))
        return self

    def run(self):
        """Record the file in a transaction rolled back after: (the store's RecordedLog, each file
        row's violations or None for a duplicate, in line order, and what the pure gate says)."""
        with self.uow() as u:
            conn = u.connection
            for case_pk, when, channel, direction, outcome in self.stored:
                conn.execute(text(
                    "INSERT INTO contacts (case_pk, at, channel, direction, outcome, right_party, reported) "
                    "VALUES (:pk, :at, CAST(:ch AS contact_channel), CAST(:dir AS contact_direction), "
                    "CAST(:out AS contact_outcome), :rp, true) ON CONFLICT DO NOTHING"),
                    {"pk": case_pk, "at": when, "ch": channel, "dir": direction, "out": outcome,
                     "rp": Outcome(outcome).right_party})
            for case_pk, hold_type, placed, lifted, until, scope in self.holds:
                conn.execute(text(
                    "INSERT INTO holds (case_pk, bank_code, borrower_ref, scope, type, reason, until, created_at, "
                    "lifted_at) SELECT id, bank_code, borrower_ref, CAST(:scope AS hold_scope), "
                    "CAST(:type AS hold_type), 'test', :until, :placed, :lifted FROM cases_processed "
                    "WHERE id = :pk ON CONFLICT DO NOTHING"),
                    {"pk": case_pk, "scope": scope, "type": hold_type, "until": until, "placed": placed,
                     "lifted": lifted})
            expected = self._expected(conn)
            store = u.dialer_logs
            with store.staging():
                store.stage([(line, self._case_id(conn, case_pk), channel, direction, outcome, when, note,
                              Outcome(outcome).right_party, None, None)
                             for line, (case_pk, when, channel, direction, outcome, note) in enumerate(self.rows, 2)])
            store.lock_cases()
            job_id = uuid.uuid4()
            assert store.set_policies(RULES.for_bank) == []
            done = store.record(lookback=lookback(RULES), job_id=job_id, created_by=None)
            found = {tuple(r[:5]): list(r[5]) for r in conn.execute(text(
                "SELECT case_pk, at, channel::text, direction::text, outcome::text, policy_violations "
                "FROM contacts WHERE job_id = :job"), {"job": job_id})}
            u.rollback()
        first = {}  # each recorded contact's first line: a later equal line is a duplicate
        for line, row in enumerate(self.rows):
            first.setdefault(row[:5], line)
        recorded = [found.get(row[:5]) if first[row[:5]] == line else None for line, row in enumerate(self.rows)]
        return done, recorded, expected

    def _case_id(self, conn, case_pk):
        return conn.execute(text("SELECT case_id FROM cases_processed WHERE id = :pk"), {"pk": case_pk}).scalar_one()

    def _expected(self, conn) -> list[list[str] | None]:
        """Each file row's violations by the pure gate (None: a duplicate), from the stored facts."""
        cases = {pk: (bank, ref, zone) for pk, bank, ref, zone in conn.execute(text(
            "SELECT id, bank_code, borrower_ref, timezone FROM cases_processed"))}
        holds = list(conn.execute(text("SELECT case_pk, bank_code, borrower_ref, scope::text, type::text, until, "
                                       "created_at, lifted_at FROM holds")))
        # (case, at, source, line): at one instant, the stored contacts (source 0) come first
        events = sorted([(c[0], c[1], 0, 0, c) for c in self.stored] +
                        [(r[0], r[1], 1, line, r) for line, r in enumerate(self.rows)], key=lambda e: e[:4])
        seen, before, verdicts = set(), {}, {}
        for case_pk, when, source, line, row in events:
            identity = (case_pk, when, row[2], row[3], row[4])
            if identity in seen:
                if source:
                    verdicts[line] = None
                continue
            seen.add(identity)
            bank, ref, zone = cases[case_pk]
            history = before.setdefault(case_pk, [])
            if source:
                active = [ActiveHold(HoldType(h.type), h.until) for h in holds
                          if (h.case_pk == case_pk or (h.scope == "borrower" and h.borrower_ref is not None
                                                       and (h.bank_code, h.borrower_ref) == (bank, ref)))
                          and h.created_at <= when and (h.lifted_at is None or h.lifted_at > when)]
                verdicts[line] = [r.value for r in gate(RULES.for_bank(bank), history, active, zone,
                                                        Channel(row[2]), Direction(row[3]), when)]
            history.append(PastContact(when, Channel(row[2]), Direction(row[3]), Outcome(row[4])))
        return [verdicts[line] for line in range(len(self.rows))]


@pytest.fixture
def log(uow):
    return lambda: Log(uow)


def test_the_eighth_call_in_seven_days_breaks_the_frequency_rule_counting_stored_calls(log, make_case):
    case = make_case(timezone=NY)
    entry = log()
    for day in range(6, 12):
        entry.store(case, at(day))
    done, recorded, expected = entry.row(case, at(12)).row(case, at(12, 16)).run()
    assert recorded == expected == [[], ["call_frequency"]]
    assert (done.recorded, done.duplicates, done.violations) == (2, 0, 1)


def test_a_duplicate_call_counts_once_in_the_week_and_before_it(log, make_case):
    slow = make_case(timezone=None, bank_code="SLOW")  # 3 calls in 7 days; Chicago: 14:00Z is 09:00
    recorded = (log().store(slow, at(1)).store(slow, at(7)).row(slow, at(7)).row(slow, at(8)).row(slow, at(9))
                .run()[1])
    assert recorded == [None, [], []]  # the week of October 9 holds the calls of the 7th and 8th only
    other = make_case(timezone=None, bank_code="SLOW")
    recorded = (log().store(other, at(1)).row(other, at(1)).row(other, at(7)).row(other, at(8))
                .row(other, at(8, 16)).row(other, at(9)).run()[1])
    assert recorded == [None, [], [], [], ["call_frequency"]]  # the 1st is out of the week, once


def test_calls_of_another_case_do_not_count(log, make_case):
    one, two = make_case(timezone=NY), make_case(timezone=NY)
    entry = log()
    for day in range(6, 13):
        entry.store(one, at(day))
    assert entry.row(two, at(12, 16)).run()[1] == [[]]


def test_a_row_equal_to_a_stored_contact_or_an_earlier_row_is_a_duplicate_and_not_counted_twice(log, make_case):
    case = make_case(timezone=NY)
    done, recorded, expected = (log().store(case, at(6)).row(case, at(6)).row(case, at(6), outcome="voicemail")
                                .row(case, at(6), outcome="voicemail").row(case, at(7)).run())
    assert recorded == expected == [None, [], None, []]
    assert (done.recorded, done.duplicates) == (2, 2)


def test_an_inbound_conversation_blocks_outbound_calls_until_d_plus_7_but_not_sms(log, make_case):
    case = make_case(timezone=NY)
    recorded = (log().row(case, at(5), direction="inbound", outcome="conversation").row(case, at(11))
                .row(case, at(11, 15), channel="sms").row(case, at(12)).run()[1])
    assert recorded == [[], ["after_conversation"], [], []]


def test_outside_hours_uses_the_cases_zone_or_the_banks_default(log, make_case):
    new_york, kolkata = make_case(timezone=NY), make_case(timezone="Asia/Kolkata")
    slow = make_case(timezone=None, bank_code="SLOW")  # America/Chicago, 08:00-19:00: 14:00Z is 09:00 there
    recorded = (log().row(new_york, at(5, 4), channel="sms").row(kolkata, at(5, 4), channel="sms")
                .row(slow, at(5, 14), channel="sms").row(slow, at(5, 0), channel="sms").run()[1])
    assert recorded == [["outside_hours"], [], [], ["outside_hours"]]


def test_a_stored_contact_at_the_rows_very_instant_counts_and_a_later_line_at_it_does_not(log, make_case):
    case = make_case(timezone=NY)
    recorded = (log().store(case, at(5), direction="inbound", outcome="conversation")
                .row(case, at(5)).row(case, at(6), outcome="voicemail").row(case, at(6), outcome="conversation")
                .run()[1])
    assert recorded == [["after_conversation"], ["after_conversation"], ["after_conversation"]]
    other = make_case(timezone=NY)
    recorded = (log().row(other, at(7), outcome="voicemail").row(other, at(7), outcome="conversation")
                .row(other, at(7, 15)).run()[1])
    assert recorded == [[], [], ["after_conversation"]]


def test_cet_keeps_its_summer_time_as_zoneinfo_does(log, make_case):
    case = make_case(timezone="CET")  # PostgreSQL alone reads CET as UTC+1 all year
    recorded = log().row(case, at(20, 19, 30), channel="sms").row(case, at(26, 19, 30), channel="sms").run()[1]
    assert recorded == [["outside_hours"], []]  # 21:30 in summer time; 20:30 after it ends on October 25


def test_a_hold_counts_only_while_it_was_active_at_the_rows_time_on_the_case_or_its_borrower(log, make_case):
    case, sibling = make_case(timezone=NY, borrower_ref="P-1"), make_case(timezone=NY, borrower_ref="P-1")
    entry = (log().hold(case, "dispute", at(5), at(8)).hold(case, "pause", at(8, 15), until=date(2026, 10, 9))
             .hold(case, "cease", at(9, 15), scope="borrower"))
    recorded = (entry.row(case, at(4), channel="email").row(case, at(6), channel="email")
                .row(case, at(8, 16), channel="email").row(case, at(10), channel="email")
                .row(sibling, at(10), channel="email").row(sibling, at(9), channel="email").run()[1])
    assert recorded == [[], ["hold_dispute"], ["hold_pause"], ["hold_cease"], ["hold_cease"], []]


def test_dispute_and_cease_rows_are_handed_back_for_their_holds_and_duplicates_place_none(log, make_case):
    case = make_case(timezone=NY)
    done, _, _ = (log().store(case, at(5), direction="inbound", outcome="dispute_raised")
                  .row(case, at(5), direction="inbound", outcome="dispute_raised")
                  .row(case, at(6), direction="inbound", outcome="cease_requested", note="stop").run())
    assert done.hold_rows == [(case, Outcome.CEASE_REQUESTED, "stop")]


# ---- the property ---------------------------------------------------------------------------------

_minutes = st.integers(0, 18 * 24 * 60 - 1).map(lambda m: BASE + timedelta(minutes=m))  # 18 days, 2 DST changes
# a few instants many contacts share: the same instant, and a week apart to the minute
_shared = st.sampled_from([BASE + timedelta(days=d, hours=h) for d in (1, 2, 8, 9, 15) for h in (12, 19.5)])
_instants = st.one_of(_minutes, _shared)
_channels = st.sampled_from(["call"] * 6 + ["sms", "email", "letter"])
_case = st.integers(0, 6)  # an index into the `cases` fixture
_contact = st.tuples(_case, _instants, _channels, st.sampled_from(["outbound"] * 3 + ["inbound"]),
                     st.sampled_from([o.value for o in Outcome]))
_hold = st.tuples(_case, st.sampled_from([t.value for t in HoldType]), _minutes, st.one_of(st.none(), _minutes),
                  st.one_of(st.none(), st.dates(date(2026, 10, 19), date(2026, 11, 8))),
                  st.sampled_from(["case", "borrower"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=st.lists(_contact, max_size=10), rows=st.lists(_contact, min_size=1, max_size=25),
       repeats=st.lists(st.integers(0, 24), max_size=4), echoes=st.lists(st.integers(0, 9), max_size=3),
       holds=st.lists(_hold, max_size=3))
def test_the_store_records_each_row_with_exactly_the_violations_the_pure_gate_finds(
        log, cases, stored, rows, repeats, echoes, holds):
    entry = log()
    for case, when, *rest in stored:
        entry.store(cases[case], when, *rest)
    # some lines repeat other lines, some repeat a stored contact
    rows = rows + [rows[i % len(rows)] for i in repeats] + [stored[i % len(stored)] for i in echoes if stored]
    for case, when, *rest in rows:
        entry.row(cases[case], when, *rest)
    for case, hold_type, placed, lifted, until, scope in holds:
        entry.hold(cases[case], hold_type, placed, lifted if lifted is None or lifted > placed else None,
                   until if hold_type == "pause" else None, scope)
    done, recorded, expected = entry.run()
    assert recorded == expected
    assert (done.recorded, done.duplicates) == (sum(v is not None for v in expected),
                                                sum(v is None for v in expected))
    assert done.violations == sum(bool(v) for v in expected if v is not None)


@pytest.fixture
def cases(make_case):
    """One borrower's two New York cases; a SLOW bank's case in its default zone (Chicago); a London
    case of a bank that allows no call; Kolkata (a half-hour offset); a LONG bank's case with an
    empty zone (its default, Kolkata); CET, which PostgreSQL alone would read as UTC+1 all year."""
    return [make_case(timezone=NY, borrower_ref="P-1"), make_case(timezone=NY, borrower_ref="P-1"),
            make_case(timezone=None, bank_code="SLOW", borrower_ref="P-1"),
            make_case(timezone="Europe/London", bank_code="NONE"), make_case(timezone="Asia/Kolkata"),
            make_case(timezone="", bank_code="LONG"), make_case(timezone="CET")]

"""The contact policy applied to a dialer's log in SQL: `domain.contact_policy.violations` for a
whole file at once, on the tables `store/dialer_logs.py` fills (dialer_staging, dialer_cases).

One sort of the file's rows and the stored contacts of their cases by (case, local day, instant,
stored first, line); window functions over it for the rules that look back (the calls counted in
the seven local days, the last right-party call) and for duplicates; the wall clock for the
hours; a probe of dialer_holds for the few held cases. tests/integration/test_dialer_log_rules.py
holds it to `violations()` row by row, with hypothesis.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError

from domain.contact_policy import WINDOW_DAYS, ContactPolicy, Outcome
from domain.contacts import RecordedLog
from domain.holds import HOLD_FOR_OUTCOME

STAGING = "dialer_staging"  # the file's checked rows (store/dialer_logs.py)

# IANA names that PostgreSQL reads as its fixed-offset abbreviations first (CET is UTC+1 all year
# to it, Central European Time with summer time to zoneinfo and the gate): the place IANA links
# each name to, whose rules are the name's own
_READ_AS_ABBREVIATIONS = {"CET": "Europe/Brussels", "MET": "Europe/Brussels", "EET": "Europe/Athens",
                          "WET": "Europe/Lisbon"}

# each case's policy: its bank's (each bank of the file has a row)
_POLICIES = """
    UPDATE dialer_cases d
       SET zone = coalesce(d.timezone, p.timezone_default), window_start = p.window_start,
           window_end = p.window_end, calls_limit = p.calls_limit, days_after = p.days_after
      FROM unnest(CAST(:banks AS text[]), CAST(:zones AS text[]), CAST(:starts AS time[]), CAST(:ends AS time[]),
                  CAST(:limits AS int[]), CAST(:days AS int[]))
           AS p(bank_code, timezone_default, window_start, window_end, calls_limit, days_after)
     WHERE p.bank_code = d.bank_code
"""
_PLACES = """
    UPDATE dialer_cases d SET zone = a.place
      FROM unnest(CAST(:names AS text[]), CAST(:places AS text[])) AS a(name, place)
     WHERE d.zone = a.name
"""

# Active at some time of the case's rows; a borrower's holds through the case they were placed on too
_HOLDS = """
    CREATE TEMP TABLE dialer_holds ON COMMIT DROP AS
    SELECT d.case_pk, h.type, h.until, h.created_at, h.lifted_at
      FROM dialer_cases d JOIN holds h ON h.case_pk = d.case_pk
     WHERE h.created_at <= d.last_at AND (h.lifted_at IS NULL OR h.lifted_at > d.first_at)
    UNION
    SELECT d.case_pk, h.type, h.until, h.created_at, h.lifted_at
      FROM dialer_cases d JOIN holds h
        ON h.scope = 'borrower' AND h.borrower_ref IS NOT NULL
       AND h.bank_code = d.bank_code AND h.borrower_ref = d.borrower_ref
     WHERE d.borrower_ref IS NOT NULL
       AND h.created_at <= d.last_at AND (h.lifted_at IS NULL OR h.lifted_at > d.first_at)
"""

_COUNTED_CALL = ("channel = 'call' AND direction = 'outbound' AND outcome <> 'not_connected'")  # _counts_as_call
_RIGHT_PARTY_CALL = "channel = 'call' AND right_party"
_ORDER = "day, at, line_no NULLS FIRST"  # at one instant: the stored contacts, then the file's lines in order

# The file's rows and the stored contacts of their cases (a range of contacts_identity_key each),
# judged and inserted. Not `first`: the same contact (case, at, channel, direction, outcome) came
# before at that instant (stored, or an earlier line): a duplicate, neither recorded nor counted.
# Local days are whole numbers, so "the six days before" is a RANGE frame; the calls counted on
# them are those before the row minus those on days older than that. All three windows share the
# one sort, by (case, local day, instant, stored first, line).
_RECORD = f"""
    WITH timeline AS (
        SELECT s.case_id, s.at, CAST(s.channel AS contact_channel), CAST(s.direction AS contact_direction),
               CAST(s.outcome AS contact_outcome), s.right_party, s.line_no, s.note
          FROM {STAGING} s
         WHERE s.error_fields IS NULL
        UNION ALL
        SELECT d.case_id, c.at, c.channel, c.direction, c.outcome, c.right_party, NULL, NULL
          FROM dialer_cases d JOIN contacts c
            ON c.case_pk = d.case_pk AND c.at >= d.first_at - :lookback AND c.at <= d.last_at
    ), local AS (
        SELECT d.case_pk, d.held, d.window_start, d.window_end, d.calls_limit, d.days_after, t.*,
               (t.at AT TIME ZONE d.zone) AS wall,
               (t.at AT TIME ZONE d.zone)::date - DATE '2000-01-01' AS day
          FROM timeline t JOIN dialer_cases d ON d.case_id = t.case_id
    ), marked AS (
        SELECT l.*, NOT coalesce(l.contact = ANY(array_agg(l.contact) OVER same_instant), false) AS first
          FROM (SELECT l.*, l.channel || '/' || l.direction || '/' || l.outcome AS contact FROM local l) l
        WINDOW same_instant AS (PARTITION BY case_pk, day, at ORDER BY line_no NULLS FIRST
                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ), judged AS (
        SELECT m.*,
               count(*) FILTER (WHERE {_COUNTED_CALL} AND first) OVER before
             - count(*) FILTER (WHERE {_COUNTED_CALL} AND first) OVER older AS calls_in_week,
               max(day) FILTER (WHERE {_RIGHT_PARTY_CALL} AND first) OVER before AS spoken
          FROM marked m
        WINDOW before AS (PARTITION BY case_pk ORDER BY {_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
               older AS (PARTITION BY case_pk ORDER BY day
                         RANGE BETWEEN UNBOUNDED PRECEDING AND {WINDOW_DAYS} PRECEDING)
    ), written AS (
        INSERT INTO contacts (case_pk, at, channel, direction, outcome, right_party, policy_violations, reported,
                              note, created_by, job_id)
        SELECT j.case_pk, j.at, j.channel, j.direction, j.outcome, j.right_party,
               CASE WHEN j.direction = 'outbound' THEN array_remove(ARRAY[
                   CASE WHEN j.channel <> 'letter'
                         AND NOT (j.wall::time >= j.window_start AND j.wall::time < j.window_end)
                        THEN 'outside_hours' END,
                   CASE WHEN j.channel = 'call' AND j.calls_in_week >= j.calls_limit THEN 'call_frequency' END,
                   CASE WHEN j.channel = 'call' AND j.day < j.spoken + j.days_after THEN 'after_conversation' END
               ], NULL) || CASE WHEN j.held THEN ARRAY(
                   SELECT 'hold_' || h.type FROM dialer_holds h
                    WHERE h.case_pk = j.case_pk AND h.created_at <= j.at
                      AND (h.lifted_at IS NULL OR h.lifted_at > j.at)
                      AND NOT (h.type = 'pause' AND h.until IS NOT NULL AND j.wall::date > h.until)
                    GROUP BY h.type ORDER BY h.type) ELSE '{{}}' END
               ELSE '{{}}' END,
               true, j.note, :created_by, :job_id
          FROM judged j
         WHERE j.line_no IS NOT NULL AND j.first
         ORDER BY j.case_pk, {_ORDER}  -- the window's order: no sort, and ids follow the file per case
        RETURNING case_pk, at, id, outcome, note, policy_violations <> '{{}}' AS broke,
                  outcome = ANY(CAST(:hold_outcomes AS contact_outcome[])) AS places_hold
    )
    SELECT count(*), count(*) FILTER (WHERE broke),
           array_agg(case_pk ORDER BY case_pk, at, id) FILTER (WHERE places_hold),
           array_agg(outcome::text ORDER BY case_pk, at, id) FILTER (WHERE places_hold),
           array_agg(note ORDER BY case_pk, at, id) FILTER (WHERE places_hold)
      FROM written
"""


def set_policies(conn: Connection, policy_for: Callable[[str], ContactPolicy]) -> list[str]:
    """Give each locked case its bank's policy settings and the zone PostgreSQL must be told;
    returns the zones PostgreSQL does not know (its time zone database may lag Python's)."""
    _set_policies(conn, policy_for)
    unknown = []
    for (zone,) in conn.exec_driver_sql("SELECT DISTINCT zone FROM dialer_cases ORDER BY 1").all():
        try:
            with conn.begin_nested():
                conn.execute(text("SELECT statement_timestamp() AT TIME ZONE :zone"), {"zone": zone})
        except DataError:
            unknown.append(zone)
    return unknown


def record(conn: Connection, *, lookback: timedelta, job_id: uuid.UUID, created_by: int | None) -> RecordedLog:
    """Judge the valid rows of the locked cases (dialer_cases, with their policies set) with the
    stored contacts from `lookback` before each case's first row, and insert those that are no
    duplicates into `contacts`."""
    conn.execute(text(_HOLDS))
    conn.exec_driver_sql("CREATE INDEX ON dialer_holds (case_pk)")  # probed per row of a held case
    conn.exec_driver_sql("ANALYZE dialer_holds")
    conn.exec_driver_sql("UPDATE dialer_cases d SET held = true FROM (SELECT DISTINCT case_pk FROM "
                         "dialer_holds) h WHERE h.case_pk = d.case_pk")
    conn.exec_driver_sql("ANALYZE dialer_cases")
    offered = conn.exec_driver_sql("SELECT coalesce(sum(rows), 0) FROM dialer_cases").scalar_one()
    recorded, broke, case_pks, outcomes, notes = conn.execute(text(_RECORD), {
        "lookback": lookback, "job_id": job_id, "created_by": created_by,
        "hold_outcomes": [outcome.value for outcome in HOLD_FOR_OUTCOME]}).one()
    hold_rows = [(case_pk, Outcome(outcome), note)
                 for case_pk, outcome, note in zip(case_pks or (), outcomes or (), notes or ())]
    return RecordedLog(recorded, int(offered) - recorded, broke, hold_rows)


def _set_policies(conn: Connection, policy_for: Callable[[str], ContactPolicy]) -> None:
    banks = [bank for (bank,) in conn.exec_driver_sql("SELECT DISTINCT bank_code FROM dialer_cases")]
    policies = [policy_for(bank) for bank in banks]
    conn.execute(text(_POLICIES), {
        "banks": banks, "zones": [p.timezone_default for p in policies],
        "starts": [p.window_start for p in policies], "ends": [p.window_end for p in policies],
        "limits": [p.calls_per_7_days for p in policies], "days": [p.days_after_conversation for p in policies]})
    conn.execute(text(_PLACES), {"names": list(_READ_AS_ABBREVIATIONS),
                                 "places": list(_READ_AS_ABBREVIATIONS.values())})

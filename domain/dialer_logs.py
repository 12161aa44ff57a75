"""A dialer's log: every row a reported contact, recorded once, with the rules it broke.

`record_dialer_log` (worker) streams the stored upload back (stored by `ingestion.start_upload`
with a `contacts` job), checks every row with `check_row` and stages it; the store then matches
case_ids, locks those cases set-based, and records the file's rows in one statement: a row equal
to a contact before it (stored, or an earlier line) is a duplicate; an outbound one carries the
rules it broke, `contact_policy.violations` applied set-based (store/dialer_rules.py, held to the
pure gate row by row by a property test) against what happened before it and the holds active at
its `at`. A `dispute_raised` / `cease_requested` row places its hold as a single contact would.
All of it is the job's one transaction: a file sent twice records nothing new.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from domain import case_rules, readers, row_files
from domain.case_rules import ROW, Problem
from domain.contact_policy import Channel, Direction, Outcome
from domain.contact_policy import lookback as policy_lookback
from domain.contact_settings import ContactRules, current_rules
from domain.contacts import MAX_NOTE_LENGTH
from domain.errors import JobFailed
from domain.events import CollectingChanged
from domain.holds import DEFAULT_SCOPE, HOLD_FOR_OUTCOME, outcome_hold_reason
from domain.ingestion import ERRORS_SAMPLE_SIZE, unreadable_failure
from domain.job_runner import Progress
from domain.jobs import Job
from domain.unit_of_work import UnitOfWork

COLUMNS = ("case_id", "channel", "direction", "outcome", "at", "note")
REQUIRED = COLUMNS[:5]
ERRORS_FIELD_ORDER = [ROW, *COLUMNS]
UNKNOWN_CASE = "no case has this case_id"

_CHANNELS = {c.value: c for c in Channel}
_DIRECTIONS = {d.value: d for d in Direction}
_OUTCOMES = {o.value: o for o in Outcome}
_RIGHT_PARTY = {o.value: o.right_party for o in Outcome}
_ENUMS = {"channel": _CHANNELS, "direction": _DIRECTIONS, "outcome": _OUTCOMES}
_AT_FORMAT = "must be an ISO 8601 time with a UTC offset, like 2026-12-03T14:05:00Z"


class _Invalid(Exception):
    """A value breaks its rule; the message says how."""


# ---- a row ----------------------------------------------------------------------------------------

class DialerRow(NamedTuple):
    """A row of the log, normalized: what the store stages."""

    case_id: str
    channel: str  # the enums' values
    direction: str
    outcome: str
    at: datetime  # aware
    note: str | None
    right_party: bool  # of the outcome


class CheckedContact(NamedTuple):
    case_id: str | None  # trimmed; kept even when the row is rejected, for the report
    contact: DialerRow | None  # None when the row is rejected
    problems: list[Problem]


def check_row(values: Sequence, now: datetime) -> CheckedContact:
    """Normalize one row (raw values in COLUMNS order), or report each of its problems."""
    try:  # the common case, a valid row, in one pass
        outcome = _choice(values[3], "outcome")
        row = DialerRow(_case_id(values[0]), _choice(values[1], "channel"), _choice(values[2], "direction"),
                        outcome, _at(values[4], now), _note(values[5]), _RIGHT_PARTY[outcome])
    except _Invalid:
        return _problems_of(values, now)
    return CheckedContact(row.case_id, row, [])


def _problems_of(values: Sequence, now: datetime) -> CheckedContact:
    problems, parsed = [], {}
    rules = (_case_id, lambda v: _choice(v, "channel"), lambda v: _choice(v, "direction"),
             lambda v: _choice(v, "outcome"), lambda v: _at(v, now), _note)
    for column, rule, value in zip(COLUMNS, rules, values):
        try:
            parsed[column] = rule(value)
        except _Invalid as invalid:
            problems.append(Problem(column, str(invalid)))
    return CheckedContact(parsed.get("case_id") or _reported(values[0]), None, problems)


def _text(value) -> str:
    if value is None:
        raise _Invalid("is required")
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    text = value.strip()
    if "\x00" in text:
        raise _Invalid("must not contain NUL characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _Invalid("is not valid Unicode text") from None
    return text


def _case_id(value) -> str:
    text = _text(value)
    if not text:
        raise _Invalid("must not be empty")
    if len(text) > case_rules.CASE_ID_MAX_LENGTH:
        raise _Invalid(f"must be at most {case_rules.CASE_ID_MAX_LENGTH} characters")
    return text


def _choice(value, column: str) -> str:
    choices = _ENUMS[column]
    if type(value) is str and value in choices:
        return value
    text = _text(value).lower()
    if text not in choices:
        raise _Invalid(f"must be one of {', '.join(choices)}")
    return text


def _at(value, now: datetime) -> datetime:
    if value is None:
        raise _Invalid("is required")
    if not isinstance(value, str):
        raise _Invalid(_AT_FORMAT)
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(_AT_FORMAT) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise _Invalid(_AT_FORMAT)
    if at > now:
        raise _Invalid("must not be in the future (a report of a past contact)")
    return at


def _note(value) -> str | None:
    if value is None or value == "":
        return None
    text = _text(value)
    if len(text) > MAX_NOTE_LENGTH:
        raise _Invalid(f"must be at most {MAX_NOTE_LENGTH} characters")
    return text or None


def _reported(value) -> str | None:
    """The case_id to show next to a problem when the value itself broke the rule."""
    try:
        return _text(value) or None
    except _Invalid:
        return None


# ---- the job --------------------------------------------------------------------------------------

def lookback(rules: ContactRules) -> timedelta:
    """How far before a case's first row its stored contacts count: the longest of the banks' policies."""
    return max(policy_lookback(policy) for policy in (rules.default, *map(rules.for_bank, rules.by_bank)))


def holds_to_place(hold_rows: Sequence[tuple[int, Outcome, str | None]]) -> list[tuple]:
    """`(case_pk, hold type, scope, reason)` of each row's hold, as `hold_book.hold_for_outcome` places it."""
    placed = []
    for case_pk, outcome, note in hold_rows:
        hold_type = HOLD_FOR_OUTCOME[outcome]
        placed.append((case_pk, hold_type, DEFAULT_SCOPE[hold_type],
                       outcome_hold_reason(outcome, note)))
    return placed


def record_dialer_log(job: Job, uow: UnitOfWork, progress: Progress) -> dict:
    """The worker's half: check and stage every row, then record the new contacts with their violations."""
    upload = uow.uploads.for_job(job.id)
    if upload is None:
        raise JobFailed("Upload missing", f"job {job.id} has no stored upload")
    store = uow.dialer_logs
    try:
        with uow.uploads.open(upload.id) as stream, store.staging():
            # the first attempt's start, retries included: "in the future" means the same rows each time
            rows = _checked_rows(readers.open_records(upload.media_type, stream), job.started_at)
            total = row_files.stage(store, rows, progress)
    except (readers.UnreadableFile, UnicodeDecodeError) as exc:
        raise unreadable_failure(uow, upload.id, exc) from None
    progress.set_total(total)  # also a cancel checkpoint before anything changes
    # ingest jobs and assignment runs update cases in orders of their own: they take turns with this
    # job, which locks the file's cases (in id order) as a single contact locks its case
    uow.ingest.serialize_writers()
    uow.assignment.serialize_runs()
    store.lock_cases()
    rules = current_rules(uow)
    unknown = store.set_policies(lru_cache(maxsize=None)(rules.for_bank))
    if unknown:
        raise JobFailed("Unknown time zone", f"the database knows no time zone named {', '.join(unknown)} (the "
                                             "zone of a case in this log, or its bank's default); nothing was recorded")
    done = store.record(lookback=lookback(rules), job_id=job.id, created_by=job.created_by)
    store.place_holds(holds_to_place(done.hold_rows), by=job.created_by)
    store.keep_errors(job.id, unknown_case=UNKNOWN_CASE)
    if done.recorded:
        uow.record(CollectingChanged("dialer log"))
    return {
        "rows_total": total,
        "rows_recorded": done.recorded,
        "rows_duplicate": done.duplicates,
        "rows_rejected": total - done.recorded - done.duplicates,
        "violations": done.violations,
        "errors_sample": uow.ingest.errors_sample(job.id, ERRORS_SAMPLE_SIZE, ERRORS_FIELD_ORDER),
    }


def _checked_rows(records: readers.Records, now: datetime) -> Iterator[tuple]:
    """Staging rows (see _staged); a CSV header without a required column fails the job at once."""
    return _staged_rows(row_files.values(records, COLUMNS, REQUIRED, noun="contact"), now)


def _staged_rows(records: Iterator[row_files.Values], now: datetime) -> Iterator[tuple]:
    for line, values, shape in records:
        if values is None:
            yield _staged(line, None, shape)
            continue
        checked = check_row(values, now)
        yield _staged(line, checked, [*shape, *checked.problems] if shape else checked.problems)


def _staged(line: int, checked: CheckedContact | None, problems: list[Problem]) -> tuple:
    """The staging row (line, case_id, channel, direction, outcome, at, note, right_party, problem
    fields, messages): the contact's values, or the case_id (when known) and the problems."""
    if not problems:
        return (line, *checked.contact, None, None)
    return (line, checked and checked.case_id, None, None, None, None, None, None, [p.field for p in problems],
            [p.message for p in problems])

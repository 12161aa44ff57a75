"""The rules of an uploaded case row — the one place they live. Pure: no I/O, no database.

A row arrives as raw values (CSV strings, or JSON scalars with numbers as Decimal/int) in
`COLUMNS` order, followed by `OPTIONAL_COLUMNS` when the file has any of them; `check_row` either
normalizes it into a `CaseRow` or lists every problem.
An optional column keeps three states apart: not sent (its column or key is absent: None), sent
empty (an empty cell, a JSON null: `CLEARED`, stored as null) and a value.
Amounts stay decimal strings ("1234.50"): PostgreSQL parses them into NUMERIC(14,2) exactly,
so no float ever touches money and the hot path builds no Decimal.
"""
from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import cache
from typing import NamedTuple
from zoneinfo import available_timezones

from domain.cases import Priority

COLUMNS = ("case_id", "bank_code", "borrower_name", "loan_amount", "due_amount", "days_past_due",
           "priority", "region")
OPTIONAL_COLUMNS = ("borrower_ref", "timezone")  # API.md, "The borrower"
ALL_COLUMNS = (*COLUMNS, *OPTIONAL_COLUMNS)
CLEARED = ""  # an optional column sent empty: the stored value becomes null
ROW = "_"  # the `field` of a problem about the row as a whole

CASE_ID_MAX_LENGTH = 64
BORROWER_REF_MAX_LENGTH = 64
MAX_AMOUNT = Decimal("999999999999.99")  # NUMERIC(14,2)
MAX_DAYS_PAST_DUE = 2**31 - 1  # int4

DUPLICATE_MESSAGE = "duplicate case_id: first seen on line {line}"

_PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{0,2})?|\.[0-9]{1,2}")  # the common, valid spelling
_CENT = Decimal("0.01")
_PRIORITIES = {p.value.lower(): p.value for p in Priority}
_PRIORITY_CHOICES = ", ".join(p.value for p in Priority)


class CaseRow(NamedTuple):
    """An uploaded row, normalized: what ingestion stores (not the `domain.cases.Case` of the API)."""

    case_id: str
    bank_code: str
    borrower_name: str
    loan_amount: str  # plain decimal string, at most 2 decimals
    due_amount: str
    days_past_due: int
    priority: str  # Title-cased Priority value
    region: str
    # None: not sent (the stored value stays); CLEARED: sent empty (stored as null)
    borrower_ref: str | None = None
    timezone: str | None = None  # an IANA name, as IANA spells it


class Problem(NamedTuple):
    field: str
    message: str


class CheckedRow(NamedTuple):
    case_id: str | None  # trimmed; kept even when the row is rejected, for reports and duplicates
    case: CaseRow | None  # None when the row is rejected
    problems: list[Problem]


class _Invalid(Exception):
    """A value breaks its rule; the message says how (it is shown to the uploader)."""


def column_key(name: str) -> str:
    """How a header name or JSON key is matched to a column: trimmed, case-insensitive."""
    return name.strip().lower()


class ColumnMap(NamedTuple):
    positions: tuple  # for each of ALL_COLUMNS, the index of the name holding it (None when absent)
    missing: list[str]  # required columns absent
    duplicated: list[str]  # columns named more than once


def map_columns(names) -> ColumnMap:
    """Match a header (or a JSON object's keys) to ALL_COLUMNS; other names are extra columns."""
    found: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        found.setdefault(column_key(str(name)), []).append(position)
    positions = tuple(found[c][0] if c in found else None for c in ALL_COLUMNS)
    missing = [c for c in COLUMNS if c not in found]
    duplicated = [c for c in ALL_COLUMNS if len(found.get(c, ())) > 1]
    return ColumnMap(positions, missing, duplicated)


def _text(value, max_length: int | None = None) -> str:
    if value is None:
        raise _Invalid("is required")
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    text = value.strip()
    if not text:
        raise _Invalid("must not be empty")
    if max_length is not None and len(text) > max_length:
        raise _Invalid(f"must be at most {max_length} characters")
    if "\x00" in text:
        raise _Invalid("must not contain NUL characters")
    if not text.isascii() and not _encodable(text):
        raise _Invalid("is not valid Unicode text")
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")  # lone surrogates (from JSON escapes) cannot be stored
    except UnicodeEncodeError:
        return False
    return True


def _amount(value) -> str:
    if isinstance(value, str):
        text = value.strip()
        if _PLAIN_AMOUNT.fullmatch(text):
            return text
        if not text:
            raise _Invalid("is required")
        return _decimal_amount(_parse_decimal(text))
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return _decimal_amount(Decimal(value))  # a JSON number: its exact value
    if value is None:
        raise _Invalid("is required")
    raise _Invalid("must be a decimal number")


def _parse_decimal(text: str) -> Decimal:
    # strings must be plain notation: "1e3" or "١٢" are not how anyone writes an amount
    if not text.isascii() or any(c in text for c in "eEnN_ "):
        raise _Invalid("must be a decimal number like 1234.56")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _Invalid("must be a decimal number like 1234.56") from None


def _decimal_amount(amount: Decimal) -> str:
    if not amount.is_finite():
        raise _Invalid("must be a decimal number like 1234.56")
    if amount < 0:
        raise _Invalid("must not be negative")
    if amount > MAX_AMOUNT:  # before quantize, which cannot hold huge exponents
        raise _Invalid(f"must be at most {MAX_AMOUNT}")
    cents = amount.quantize(_CENT, rounding=ROUND_DOWN)
    if cents != amount:
        raise _Invalid("must have at most 2 decimals")
    return f"{cents:f}"


def _days(value) -> int:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise _Invalid("is required")
        if not (text.isascii() and text.isdigit()):
            if text.startswith("-") and text[1:].isdigit():
                raise _Invalid("must not be negative")
            raise _Invalid("must be a whole number of days")
        days = int(text) if len(text) <= 12 else MAX_DAYS_PAST_DUE + 1
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        if isinstance(value, Decimal) and not (value.is_finite() and value == value.to_integral_value()):
            raise _Invalid("must be a whole number of days")
        if value < 0:
            raise _Invalid("must not be negative")
        days = int(min(value, MAX_DAYS_PAST_DUE + 1))
    elif value is None:
        raise _Invalid("is required")
    else:
        raise _Invalid("must be a whole number of days")
    if days > MAX_DAYS_PAST_DUE:
        raise _Invalid(f"must be at most {MAX_DAYS_PAST_DUE}")
    return days


def _priority(value) -> str:
    if value is None:
        raise _Invalid("is required")
    name = _PRIORITIES.get(value.strip().lower()) if isinstance(value, str) else None
    if name is None:
        raise _Invalid(f"must be one of {_PRIORITY_CHOICES}")
    return name


def _case_id(value) -> str:
    return _text(value, CASE_ID_MAX_LENGTH)


def _optional(rule):
    """The rule of an optional column: None (not sent) and blanks (CLEARED) pass, values obey `rule`."""
    def check(value) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and not value.strip():
            return CLEARED
        return rule(value)
    return check


@_optional
def _borrower_ref(value) -> str:
    return _text(value, BORROWER_REF_MAX_LENGTH)


@_optional
def _timezone(value) -> str:
    name = _text(value)
    spelled = _zones().get(name.lower())
    if spelled != name:
        raise _Invalid(_unknown_zone(spelled))
    return name


@cache  # read from the system's (or the tzdata package's) time zone database once per process
def _zones() -> dict[str, str]:
    """Every IANA time zone name, by its lower-case spelling."""
    # "localtime" is this server's own zone, "Factory" IANA's "zone unknown": neither is a borrower's
    return {name.lower(): name for name in available_timezones() - {"localtime", "Factory"}}


def _unknown_zone(spelled: str | None) -> str:
    if spelled is not None:
        return f"must be spelled as IANA does: {spelled}"
    if not _zones():
        return "cannot be checked: this server has no time zone database (install tzdata)"
    return "is not an IANA time zone name (like America/Chicago)"


_RULES = (_case_id, _text, _text, _amount, _amount, _days, _priority, _text, _borrower_ref, _timezone)
_REQUIRED_COUNT = len(COLUMNS)


def check_row(values) -> CheckedRow:
    """Normalize one row (raw values in COLUMNS order, then all of OPTIONAL_COLUMNS or none of
    them), or report each of its problems."""
    try:  # the common case, a valid row, in one pass
        if len(values) == _REQUIRED_COUNT:  # a file without optional columns: they stay not sent
            case = CaseRow(_case_id(values[0]), _text(values[1]), _text(values[2]), _amount(values[3]),
                           _amount(values[4]), _days(values[5]), _priority(values[6]), _text(values[7]))
        else:
            case = CaseRow(_case_id(values[0]), _text(values[1]), _text(values[2]), _amount(values[3]),
                           _amount(values[4]), _days(values[5]), _priority(values[6]), _text(values[7]),
                           _borrower_ref(values[8]), _timezone(values[9]))
    except _Invalid:
        return _problems_of(values)
    return CheckedRow(case.case_id, case, [])


def _problems_of(values) -> CheckedRow:
    problems = []
    for column, rule, value in zip(ALL_COLUMNS, _RULES, values):
        try:
            rule(value)
        except _Invalid as invalid:
            problems.append(Problem(column, str(invalid)))
    try:
        case_id = _case_id(values[0])
    except _Invalid:
        case_id = _reported_case_id(values[0])
    return CheckedRow(case_id, None, problems)


def _reported_case_id(value) -> str | None:
    """The case_id to show next to a problem when the value itself broke the rule."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("\x00", "\ufffd")
    return text if text and _encodable(text) else None


def not_an_object() -> CheckedRow:
    """A JSON element that is not an object cannot be a case."""
    return CheckedRow(None, None, [Problem(ROW, "must be a JSON object with the case columns")])


def unreadable(reason: str) -> CheckedRow:
    """A record the reader could not parse (e.g. an NDJSON line that is not JSON)."""
    return CheckedRow(None, None, [Problem(ROW, reason)])


def duplicated_keys(columns: list[str]) -> Problem:
    """An object names the same column twice (e.g. "Region" and "region")."""
    return Problem(ROW, f"names column(s) {', '.join(columns)} more than once")


def field_count(found: int, expected: int) -> Problem:
    """A CSV row with more fields than the header."""
    return Problem(ROW, f"has {found} fields but the header has {expected}")

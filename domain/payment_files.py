"""The bank's daily payments file: every row a reported payment, checked, recorded once, applied.

`apply_payments_file` (worker) streams the stored upload back (stored by `ingestion.start_upload`
with a `payments` job; its bytes stay in `upload_chunks` as the raw record of the file), checks
every row with `check_row` (the single payment's rules, `domain.payments.check_payment`, less the
balance) and stages it; the store then works set-based in the job's one transaction: unknown
cases, references already recorded (the same payment: a duplicate; anything else: a conflict) or
repeated in the file, payments that would take a balance below 0 in file order; it records the
others and applies them to their cases (`store.ledger`). A file sent twice records nothing twice.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import NamedTuple

from domain import case_rules, readers, row_files
from domain.case_rules import ROW, Problem
from domain.errors import InvalidInput, JobFailed
from domain.events import CasesChanged
from domain.ingestion import ERRORS_SAMPLE_SIZE, unreadable_failure
from domain.job_runner import Progress
from domain.jobs import Job
from domain.payments import CLIENT_METHODS, PaymentMethod, check_payment
from domain.unit_of_work import UnitOfWork

COLUMNS = ("case_id", "amount", "paid_on", "reference", "method")
REQUIRED = COLUMNS[:4]
ERRORS_FIELD_ORDER = [ROW, *COLUMNS]
UNKNOWN_CASE = "no case has this case_id"
CONFLICTING_REFERENCE = "already recorded for another case or amount (a reference is unique per bank)"
REPEATED_REFERENCE = "duplicate reference: first seen on line {line}"
OVERPAYMENT = "exceeds the case's balance left by the file's earlier payments to it ({balance})"

_MAX_AMOUNT = case_rules.MAX_AMOUNT
_CENT = Decimal("0.01")
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{0,2})?|\.[0-9]{1,2}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_METHODS = {m.value: m.value for m in CLIENT_METHODS}
_METHOD_CHOICES = ", ".join(_METHODS)


class PaymentRow(NamedTuple):
    """A row of the file, normalized: what the store stages."""

    case_id: str
    amount: Decimal
    paid_on: date
    reference: str
    method: str  # a PaymentMethod value


class CheckedPayment(NamedTuple):
    case_id: str | None  # trimmed; kept even when the row is rejected, for the report
    payment: PaymentRow | None  # None when the row is rejected
    problems: list[Problem]


class _Invalid(Exception):
    """A value breaks its rule; the message says how."""


def check_row(values: Sequence, today: date) -> CheckedPayment:
    """Normalize one row (raw values in COLUMNS order), or report each of its problems."""
    try:  # the common case, a valid row, in one pass
        payment = PaymentRow(_case_id(values[0]), _amount(values[1]), _paid_on(values[2]), _text(values[3]),
                             _method(values[4]))
        # the single payment's rules; the balance is checked set-based, against the cases as locked
        check_payment(amount=payment.amount, paid_on=payment.paid_on, reference=payment.reference,
                      balance_due=_MAX_AMOUNT, today=today)
    except (_Invalid, InvalidInput):
        return _problems_of(values, today)
    return CheckedPayment(payment.case_id, payment, [])


def _problems_of(values: Sequence, today: date) -> CheckedPayment:
    problems, parsed = [], {}
    for column, rule, value in zip(COLUMNS, (_case_id, _amount, _paid_on, _text, _method), values):
        try:
            parsed[column] = rule(value)
        except _Invalid as invalid:
            problems.append(Problem(column, str(invalid)))
    try:  # with a stand-in for each value that did not parse, so that only those that did are judged
        check_payment(amount=parsed.get("amount", _CENT), paid_on=parsed.get("paid_on", today),
                      reference=parsed.get("reference", "-"), balance_due=_MAX_AMOUNT, today=today)
    except InvalidInput as invalid:
        problems += [Problem(field, message) for field, messages in invalid.errors.items() for message in messages]
    case_id = parsed.get("case_id") or _reported(values[0])
    return CheckedPayment(case_id, None, sorted(problems, key=lambda p: COLUMNS.index(p.field)))


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


def _amount(value) -> Decimal:
    if isinstance(value, str):
        text = value.strip()
        if _PLAIN_AMOUNT.fullmatch(text):
            return Decimal(text)  # the common spelling: at most 12 digits and 2 decimals
        if not text:
            raise _Invalid("is required")
        if not text.isascii() or any(c in text for c in "eEnN_ "):
            raise _Invalid("must be a decimal number like 1234.56")  # "1e3", "NaN", "١٢" are no amounts
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise _Invalid("must be a decimal number like 1234.56") from None
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        amount = Decimal(value)  # a JSON number: its exact value
    elif value is None:
        raise _Invalid("is required")
    else:
        raise _Invalid("must be a decimal number like 1234.56")
    if not amount.is_finite():
        raise _Invalid("must be a decimal number like 1234.56")
    if amount > _MAX_AMOUNT:  # before quantize, which cannot hold huge exponents
        raise _Invalid(f"must be at most {_MAX_AMOUNT}")
    cents = amount.quantize(_CENT, rounding=ROUND_DOWN)
    if cents != amount:
        raise _Invalid("must have at most 2 decimals")
    return cents


def _paid_on(value) -> date:
    if value is None:
        raise _Invalid("is required")
    text = value.strip() if isinstance(value, str) else ""
    if not _ISO_DATE.fullmatch(text):
        raise _Invalid("must be a date like 2026-12-31")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{text} is not a date") from None


def _method(value) -> str:
    if type(value) is str and value in _METHODS:
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return PaymentMethod.OTHER.value
    method = _METHODS.get(value.strip().lower()) if isinstance(value, str) else None
    if method is None:
        raise _Invalid(f"must be one of {_METHOD_CHOICES}")
    return method


def _reported(value) -> str | None:
    """The case_id to show next to a problem when the value itself broke the rule."""
    try:
        return _text(value) or None
    except _Invalid:
        return None


# ---- the job ---------------------------------------------------------------------------------------

def apply_payments_file(job: Job, uow: UnitOfWork, progress: Progress, *, kept_percent: Decimal = Decimal(100)) -> dict:
    """The worker's half: check and stage every row, then record and apply the new payments."""
    upload = uow.uploads.for_job(job.id)
    if upload is None:
        raise JobFailed("Upload missing", f"job {job.id} has no stored upload")
    today = job.started_at.astimezone(UTC).date()  # the first attempt's day, retries included
    store = uow.payment_files
    try:
        with uow.uploads.open(upload.id) as stream, store.staging():
            rows = _checked_rows(readers.open_records(upload.media_type, stream), today)
            total = row_files.stage(store, rows, progress)
    except (readers.UnreadableFile, UnicodeDecodeError) as exc:
        raise unreadable_failure(uow, upload.id, exc) from None
    progress.set_total(total)  # also a cancel checkpoint before anything changes
    # Other files (a payments file sent twice at once: its references) and ingest jobs and assignment
    # runs (cases, updated in orders of their own) take turns with this one: no conflict, no deadlock.
    uow.ingest.serialize_writers()
    uow.assignment.serialize_runs()
    applied = paid_off = 0
    if store.match_rows(unknown_case=UNKNOWN_CASE, conflict=CONFLICTING_REFERENCE, repeated=REPEATED_REFERENCE):
        store.lock_cases()
        store.reject_overpayments(OVERPAYMENT)
        applied = store.insert_payments(job.id, created_by=job.created_by)
        paid_off = store.apply_to_cases(job.id, by=job.created_by, kept_percent=kept_percent)
    store.keep_errors(job.id)
    if applied:
        uow.record(CasesChanged("payments"))
    duplicates = store.duplicate_count()
    return {
        "rows_total": total,
        "rows_applied": applied,
        "rows_duplicate": duplicates,
        "rows_rejected": total - applied - duplicates,
        "cases_paid_off": paid_off,
        "errors_sample": uow.ingest.errors_sample(job.id, ERRORS_SAMPLE_SIZE, ERRORS_FIELD_ORDER),
    }


def _checked_rows(records: readers.Records, today: date) -> Iterator[tuple]:
    """Staging rows (see _staged); a CSV header without a required column fails the job at once."""
    return _staged_rows(row_files.values(records, COLUMNS, REQUIRED, noun="payment"), today)


def _staged_rows(records: Iterator[row_files.Values], today: date) -> Iterator[tuple]:
    for line, values, shape in records:
        if values is None:
            yield _staged(line, None, shape)
            continue
        checked = check_row(values, today)
        yield _staged(line, checked, [*checked.problems, *shape] if shape else checked.problems)


def _staged(line: int, checked: CheckedPayment | None, problems: list[Problem]) -> tuple:
    """The staging row (line, case_id, amount, paid_on, reference, method, problem fields,
    messages): the payment's values, or the case_id (when known) and the problems."""
    if not problems:
        return (line, *checked.payment, None, None)
    return (line, checked and checked.case_id, None, None, None, None, [p.field for p in problems],
            [p.message for p in problems])

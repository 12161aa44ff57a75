"""What the payments file and the dialer's log share, with no database (domain.row_files): the
header mapped to the columns, each record's values in their order, the shape problems."""
from __future__ import annotations

import io

import pytest

from domain import readers, row_files
from domain.case_rules import ROW, Problem
from domain.errors import JobFailed

COLUMNS = ("case_id", "amount", "note")
REQUIRED = COLUMNS[:2]


def values(fmt: str, text: str) -> list:
    records = readers.open_records(fmt, io.BytesIO(text.encode()))
    return list(row_files.values(records, COLUMNS, REQUIRED, noun="payment"))


def test_a_csv_header_in_any_order_and_case_gives_the_values_in_the_columns_order():
    assert values("csv", "Note, AMOUNT ,case_id\nhi,10,C-1\n") == [(2, ("C-1", "10", "hi"), [])]


def test_a_short_csv_row_has_none_for_the_rest_and_a_long_one_a_problem_of_its_shape():
    assert values("csv", "case_id,amount\nC-1\nC-2,5,extra\n") == [
        (2, ("C-1", None, None), []),
        (3, ("C-2", "5", None), [Problem(ROW, "has 3 fields but the header has 2")])]


def test_a_header_without_a_required_column_fails_the_job_naming_it_and_the_optional_ones():
    with pytest.raises(JobFailed) as failure:
        values("csv", "case_id,note\nC-1,x\n")
    assert failure.value.title == "Missing columns"
    assert "no column amount (expected case_id, amount and optionally note" in failure.value.detail


def test_a_header_naming_a_column_twice_fails_the_job():
    with pytest.raises(JobFailed) as failure:
        values("csv", "case_id,amount,Amount\nC-1,1,2\n")
    assert failure.value.title == "Ambiguous columns"
    assert failure.value.detail == "the header names amount more than once"


def test_json_objects_are_read_by_their_keys_whatever_the_case_and_a_key_named_twice_is_a_problem():
    assert values("ndjson", '{"AMOUNT": 3, "case_id": "C-1"}\n{"case_id": "C-2", "amount": 1, "Amount": 2}\n') == [
        (1, ["C-1", 3, None], []),
        (2, ["C-2", 1, None], [Problem(ROW, "names column(s) amount more than once")])]


def test_a_json_value_that_is_no_object_or_no_json_is_a_record_without_values():
    assert values("ndjson", '[1]\n{oops\n') == [
        (1, None, [Problem(ROW, "must be a JSON object with the payment columns")]),
        (2, None, [Problem(ROW, values_reason("{oops"))])]


def values_reason(line: str) -> str:
    (_, record), = readers.open_records("ndjson", io.BytesIO(line.encode())).rows
    return record.reason

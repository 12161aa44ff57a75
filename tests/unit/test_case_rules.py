"""The per-row rules of an upload, without a database."""
from decimal import Decimal

import pytest

from domain.case_rules import CLEARED, COLUMNS, OPTIONAL_COLUMNS, CaseRow, check_row, map_columns

GOOD = ["CASE-1", "HDFC", "Asha Rao", "74667.02", "13404.00", "24", "Low", "West"]


def row(**changes):
    values = dict(zip(COLUMNS, GOOD))
    values.update(changes)
    return [values[c] for c in COLUMNS]


def problems(**changes):
    return [(p.field, p.message) for p in check_row(row(**changes)).problems]


def test_a_valid_row_is_normalized_into_a_case():
    checked = check_row(row(case_id=" CASE-1 ", priority=" hIGH ", loan_amount=" 12.5 ", days_past_due=" 007 "))
    assert checked.problems == []
    assert checked.case == CaseRow("CASE-1", "HDFC", "Asha Rao", "12.5", "13404.00", 7, "High", "West")


@pytest.mark.parametrize("case_id, message", [
    ("", "must not be empty"), ("   ", "must not be empty"), (None, "is required"),
    ("X" * 65, "must be at most 64 characters"),
])
def test_case_id_must_be_present_and_at_most_64_characters(case_id, message):
    assert problems(case_id=case_id) == [("case_id", message)]


def test_a_case_id_of_exactly_64_characters_is_accepted():
    assert check_row(row(case_id="X" * 64)).case is not None


def test_a_rejected_row_still_reports_its_case_id():
    checked = check_row(row(case_id=" CASE-9 ", priority="urgent"))
    assert checked.case is None and checked.case_id == "CASE-9"


@pytest.mark.parametrize("column", ["bank_code", "borrower_name", "region"])
def test_text_columns_must_not_be_empty(column):
    assert problems(**{column: "  "}) == [(column, "must not be empty")]


@pytest.mark.parametrize("amount, expected", [
    ("0", "0"), ("12", "12"), ("12.5", "12.5"), ("12.50", "12.50"), (".5", ".5"),
    ("999999999999.99", "999999999999.99"),
    ("12.500", "12.50"), ("+7", "7.00"), (Decimal("1E+3"), "1000.00"), (Decimal("12.5"), "12.50"), (40, "40.00"),
])
def test_amounts_accept_decimals_with_at_most_two_places(amount, expected):
    assert check_row(row(loan_amount=amount)).case.loan_amount == expected


@pytest.mark.parametrize("amount, message", [
    ("12.345", "must have at most 2 decimals"),
    (Decimal("0.001"), "must have at most 2 decimals"),
    ("-5", "must not be negative"),
    (Decimal("-0.01"), "must not be negative"),
    ("1e3", "must be a decimal number like 1234.56"),
    ("NaN", "must be a decimal number like 1234.56"),
    ("Infinity", "must be a decimal number like 1234.56"),
    ("1,000", "must be a decimal number like 1234.56"),
    ("1_000", "must be a decimal number like 1234.56"),
    ("١٢", "must be a decimal number like 1234.56"),
    ("abc", "must be a decimal number like 1234.56"),
    ("", "is required"),
    (None, "is required"),
    (True, "must be a decimal number"),
    (1.5, "must be a decimal number"),
    ("1000000000000", "must be at most 999999999999.99"),
    (Decimal("1E+999999"), "must be at most 999999999999.99"),
])
def test_amounts_that_are_not_exact_non_negative_decimals_are_rejected(amount, message):
    assert problems(due_amount=amount) == [("due_amount", message)]


@pytest.mark.parametrize("days, expected", [
    ("0", 0), (" 30 ", 30), (91, 91), (Decimal("12"), 12), ("2147483647", 2**31 - 1),
])
def test_days_past_due_accepts_whole_numbers(days, expected):
    assert check_row(row(days_past_due=days)).case.days_past_due == expected


@pytest.mark.parametrize("days, message", [
    ("12.5", "must be a whole number of days"), ("12.0", "must be a whole number of days"),
    (Decimal("12.5"), "must be a whole number of days"), ("ten", "must be a whole number of days"),
    ("-3", "must not be negative"), (-3, "must not be negative"), ("2147483648", "must be at most 2147483647"),
    ("9" * 40, "must be at most 2147483647"), (False, "must be a whole number of days"), ("", "is required"),
])
def test_days_past_due_that_is_not_a_non_negative_integer_is_rejected(days, message):
    assert problems(days_past_due=days) == [("days_past_due", message)]


@pytest.mark.parametrize("priority", ["low", "MEDIUM", " High ", "cRiTiCaL"])
def test_priority_matches_in_any_case_and_is_stored_title_cased(priority):
    assert check_row(row(priority=priority)).case.priority == priority.strip().title()


@pytest.mark.parametrize("priority", ["Urgent", "", "Lowest", 3])
def test_an_unknown_priority_is_rejected(priority):
    assert problems(priority=priority)[0][0] == "priority"


def test_every_problem_of_a_row_is_reported():
    found = problems(case_id="", loan_amount="-1", due_amount="1.234", days_past_due="x", priority="no", region="")
    assert [field for field, _ in found] == [
        "case_id", "loan_amount", "due_amount", "days_past_due", "priority", "region"]


def test_text_that_postgres_cannot_store_is_rejected():
    assert problems(region="We\x00st") == [("region", "must not contain NUL characters")]
    assert problems(bank_code="\ud800") == [("bank_code", "is not valid Unicode text")]


def test_json_values_of_the_wrong_type_are_rejected():
    assert problems(case_id=123) == [("case_id", "must be a string")]
    assert problems(region={"a": 1}) == [("region", "must be a string")]


def test_columns_match_case_insensitively_after_trimming_and_extras_are_ignored():
    mapping = map_columns([" CASE_ID", "Bank_Code", "note", "borrower_name ", "LOAN_AMOUNT", "due_amount",
                           "Days_Past_Due", "priority", "Region"])
    assert mapping.missing == [] and mapping.duplicated == []
    assert mapping.positions == (0, 1, 3, 4, 5, 6, 7, 8, None, None)  # no optional column


def test_missing_and_repeated_columns_are_named():
    mapping = map_columns(["case_id", "Region", "region", "priority"])
    assert mapping.missing == ["bank_code", "borrower_name", "loan_amount", "due_amount", "days_past_due"]
    assert mapping.duplicated == ["region"]


# ---- the borrower's optional columns -------------------------------------------------------------

def with_borrower(borrower_ref=None, timezone=None):
    """A valid row that sends the optional columns (None: that one not sent)."""
    return [*row(), borrower_ref, timezone]


def borrower_problems(**changes):
    return [(p.field, p.message) for p in check_row(with_borrower(**changes)).problems]


def test_a_row_without_the_optional_columns_sends_neither():
    case = check_row(row()).case
    assert (case.borrower_ref, case.timezone) == (None, None)


def test_the_borrower_ref_and_timezone_are_kept_trimmed():
    case = check_row(with_borrower(" CUST-42 ", " America/Chicago ")).case
    assert (case.borrower_ref, case.timezone) == ("CUST-42", "America/Chicago")


@pytest.mark.parametrize("zone", ["America/Chicago", "Asia/Kolkata", "Europe/London", "UTC", "Etc/GMT+5",
                                  "America/Argentina/Buenos_Aires", "Pacific/Honolulu"])
def test_a_timezone_known_to_the_iana_database_is_accepted(zone):
    assert check_row(with_borrower(timezone=zone)).case.timezone == zone


@pytest.mark.parametrize("zone, message", [
    ("Mars/Olympus_Mons", "is not an IANA time zone name (like America/Chicago)"),
    ("CST", "is not an IANA time zone name (like America/Chicago)"),
    ("GMT+5:30", "is not an IANA time zone name (like America/Chicago)"),
    ("America/Chicago/", "is not an IANA time zone name (like America/Chicago)"),
    ("../etc/passwd", "is not an IANA time zone name (like America/Chicago)"),
    ("localtime", "is not an IANA time zone name (like America/Chicago)"),  # the server's own, not IANA's
    ("america/chicago", "must be spelled as IANA does: America/Chicago"),
    ("ASIA/KOLKATA", "must be spelled as IANA does: Asia/Kolkata"),
    (5, "must be a string"),
    ("Asia/Kolkata\x00", "must not contain NUL characters"),
])
def test_an_unknown_or_misspelled_timezone_rejects_the_row(zone, message):
    checked = check_row(with_borrower(timezone=zone))
    assert checked.case is None and checked.case_id == "CASE-1"
    assert [(p.field, p.message) for p in checked.problems] == [("timezone", message)]


@pytest.mark.parametrize("cell", ["", "   ", "\t"])
def test_an_empty_cell_in_an_optional_column_clears_the_stored_value(cell):
    case = check_row(with_borrower(cell, cell)).case
    assert (case.borrower_ref, case.timezone) == (CLEARED, CLEARED)


def test_one_optional_column_can_be_sent_without_the_other():
    case = check_row(with_borrower(timezone="Asia/Kolkata")).case
    assert (case.borrower_ref, case.timezone) == (None, "Asia/Kolkata")


def test_a_borrower_ref_is_at_most_64_characters_of_text():
    assert check_row(with_borrower("R" * 64)).case.borrower_ref == "R" * 64
    assert borrower_problems(borrower_ref="R" * 65) == [("borrower_ref", "must be at most 64 characters")]
    assert borrower_problems(borrower_ref=42) == [("borrower_ref", "must be a string")]


def test_problems_of_the_optional_columns_come_after_the_required_ones():
    values = row(region="")
    found = [(p.field, p.message) for p in check_row([*values, "R" * 65, "Nowhere"]).problems]
    assert [field for field, _ in found] == ["region", "borrower_ref", "timezone"]


def test_optional_columns_match_in_any_case_and_may_be_absent_one_at_a_time():
    header = ["Timezone ", *COLUMNS, " BORROWER_REF"]
    assert map_columns(header).positions == (*range(1, 9), 9, 0)
    mapping = map_columns([*COLUMNS, "TimeZone"])
    assert mapping.missing == [] and mapping.positions[len(COLUMNS):] == (None, 8)


def test_an_optional_column_named_twice_is_ambiguous_but_never_missing():
    mapping = map_columns([*COLUMNS, "timezone", "TIMEZONE"])
    assert mapping.duplicated == ["timezone"] and mapping.missing == []
    assert set(OPTIONAL_COLUMNS).isdisjoint(map_columns(["case_id"]).missing)

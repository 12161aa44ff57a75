"""Streaming readers: CSV, JSON array and NDJSON records with their line numbers."""
import io
from decimal import Decimal

import pytest

from domain.readers import Unreadable, UnreadableFile, locate_invalid_utf8, open_records


def read(fmt, data: bytes):
    records = open_records(fmt, io.BytesIO(data))
    return records.columns, list(records.rows)


def test_csv_header_comes_first_and_each_record_has_its_line():
    header, rows = read("csv", b"a,b\n1,2\n3,4\n")
    assert header == ["a", "b"]
    assert rows == [(2, ["1", "2"]), (3, ["3", "4"])]


def test_a_utf8_bom_is_not_part_of_the_first_column_name():
    header, _ = read("csv", b"\xef\xbb\xbfcase_id,b\n1,2\n")
    assert header == ["case_id", "b"]


def test_crlf_line_ends_are_read_like_lf():
    assert read("csv", b"a,b\r\n1,2\r\n3,4\r\n")[1] == [(2, ["1", "2"]), (3, ["3", "4"])]


def test_quoted_fields_keep_commas_and_newlines_and_the_next_line_number_follows():
    _, rows = read("csv", b'a,b\r\n1,"x, y\r\nz"\r\n2,"q""uote"\n3,4\n')
    assert rows == [(2, ["1", "x, y\r\nz"]), (4, ["2", 'q"uote']), (5, ["3", "4"])]


def test_blank_lines_are_skipped_but_counted():
    assert read("csv", b"a,b\n\n1,2\n\n\n3,4\n")[1] == [(3, ["1", "2"]), (6, ["3", "4"])]


def test_rows_keep_their_own_number_of_fields():
    assert read("csv", b"a,b\n1\n1,2,3\n")[1] == [(2, ["1"]), (3, ["1", "2", "3"])]


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_a_csv_without_a_header_cannot_be_read(data):
    with pytest.raises(UnreadableFile, match="no header row"):
        read("csv", data)


def test_a_header_only_csv_has_no_records():
    assert read("csv", b"a,b\r\n") == (["a", "b"], [])


def test_an_unterminated_quote_fails_the_file_naming_where_the_record_starts():
    with pytest.raises(UnreadableFile, match="record starting on line 3"):
        read("csv", b'a,b\n1,2\n3,"open\n4,5\n')


def test_non_utf8_bytes_raise_and_are_located_exactly():
    data = b"a,b\r\n1,2\r\n3,caf\xe9\r\n"
    with pytest.raises(UnicodeDecodeError):
        read("csv", data)
    assert locate_invalid_utf8(io.BytesIO(data)) == (15, 3, 0xE9)


def test_utf8_location_is_exact_across_chunk_boundaries():
    data = "é\r\nx\ry\n".encode() + b"ok\xc3"
    assert locate_invalid_utf8(io.BytesIO(data), chunk_bytes=2) == (len(data) - 1, 4, 0xC3)
    assert locate_invalid_utf8(io.BytesIO("é\n€".encode()), chunk_bytes=1) is None


def test_json_array_elements_are_numbered_from_one_and_numbers_stay_exact():
    _, rows = read("json", b'\xef\xbb\xbf [{"a": 12.50, "b": 3}, 5, "x", null]')
    assert rows == [(1, {"a": Decimal("12.50"), "b": 3}), (2, 5), (3, "x"), (4, None)]
    assert isinstance(rows[0][1]["a"], Decimal)


@pytest.mark.parametrize("data, found", [(b'{"a": 1}', "'{'"), (b"  ", "nothing"), (b'"x"', "'\"'")])
def test_a_json_body_that_is_not_an_array_cannot_be_read(data, found):
    with pytest.raises(UnreadableFile, match=f"must be an array of case objects; it starts with {found}"):
        read("json", data)


def test_malformed_json_says_after_which_element():
    with pytest.raises(UnreadableFile, match="malformed JSON after element 2"):
        read("json", b'[{"a": 1}, {"a": 2}, {"a": ]')


def test_an_absurdly_long_number_is_refused_before_the_parser_sees_it():
    with pytest.raises(UnreadableFile, match="byte offset 7 has more than"):
        read("json", b'[{"a": 1' + b"0" * 5000 + b"}]")


def test_ndjson_lines_are_numbered_and_bad_lines_become_unreadable_records():
    _, rows = read("ndjson", b'{"a": 1}\n\nnot json\r\n{"b": NaN}\n{"c": 0.10}')
    assert rows[0] == (1, {"a": 1})
    assert rows[1][0] == 3 and isinstance(rows[1][1], Unreadable) and rows[1][1].text == "not json"
    assert rows[2][0] == 4 and "NaN is not a number JSON allows" in rows[2][1].reason
    assert rows[3] == (5, {"c": Decimal("0.10")})

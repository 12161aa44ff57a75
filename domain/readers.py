"""Streaming readers: a binary stream in, `(line, record)` out, in constant memory.

CSV records are lists of raw strings aligned with the header (`Records.columns`, as received;
a list keeps every value even when the header repeats a name, and costs less than a dict).
JSON records are the parsed values (numbers as int/Decimal, never float): a dict for a case
object, anything else for an element that is not one, `Unreadable` for an NDJSON line that
is not JSON. `line` is the physical line where a CSV record starts (the header is line 1;
quoted newlines make a record span lines), the 1-based element index in a JSON array, the line
number in NDJSON.

A file that cannot be read at all raises `UnreadableFile` saying where; bytes that are not
UTF-8 raise UnicodeDecodeError, which `locate_invalid_utf8` turns into a precise position.
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO

import ijson

CSV, JSON, NDJSON = "csv", "json", "ndjson"

_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = b" \t\r\n"
_MAX_DEPTH = 64  # deeper JSON is summarized rather than recursed into


class UnreadableFile(Exception):
    """The file cannot be read as its format says; the message says where."""


@dataclass(frozen=True)
class Unreadable:
    """A record that could not be parsed: its text as received and why."""

    text: str
    reason: str


@dataclass
class Records:
    columns: list[str] | None  # the CSV header as received; None for JSON (keys vary by object)
    rows: Iterator[tuple[int, object]]  # (line, record)
    # CSV: the text of the record `rows` gave last, as received (quoted line ends included, the
    # record's own line end not); None for JSON
    last_text: Callable[[], str] | None = None


class _KeptLines:
    """The lines of a text, each kept until `take`: the csv reader asks for exactly the lines of
    one record, so after it returns a record they are that record's text."""

    def __init__(self, text: io.TextIOWrapper):
        self._text = text
        self._kept: list[str] = []

    def __iter__(self) -> Iterator[str]:
        keep = self._kept.append
        for line in self._text:
            keep(line)
            yield line

    def take(self) -> str:
        text = self._kept[0] if len(self._kept) == 1 else "".join(self._kept)
        self._kept.clear()
        if text.endswith("\n"):
            return text[:-2] if text.endswith("\r\n") else text[:-1]
        return text[:-1] if text.endswith("\r") else text


def open_records(fmt: str, stream: BinaryIO) -> Records:
    """Start reading `stream` as `fmt` (the CSV header is read at once)."""
    if fmt == CSV:
        return _csv_records(stream)
    if fmt == JSON:
        return Records(None, _json_array(stream))
    if fmt == NDJSON:
        return Records(None, _ndjson(stream))
    raise ValueError(f"unknown format {fmt!r}")


class Counted(io.BufferedReader):
    """A binary stream that counts the bytes read from it (`count`; read ahead by a buffer at most)."""

    def __init__(self, stream: BinaryIO, buffer_size: int = 64 * 1024):
        self._counter = _Counter(stream)
        super().__init__(self._counter, buffer_size=buffer_size)

    @property
    def count(self) -> int:
        return self._counter.count


class _Counter(io.RawIOBase):
    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _text(stream: BinaryIO) -> io.TextIOWrapper:
    # newline="": records keep their own line ends, so quoted CR/LF survive and lines count right
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")


def _csv_records(stream: BinaryIO) -> Records:
    # strict: a broken quote blurs where records end, so it fails the file rather than guess
    lines = _KeptLines(_text(stream))
    reader = csv.reader(lines, strict=True)
    try:
        header = next((row for row in reader if row), None)
    except csv.Error as exc:
        raise UnreadableFile(f"line {reader.line_num}: {exc}") from None
    if header is None:
        raise UnreadableFile("the file has no header row")
    lines.take()
    return Records(header, _csv_rows(reader, lines), lines.take)


def _csv_rows(reader, lines: _KeptLines) -> Iterator[tuple[int, list[str]]]:
    end = reader.line_num
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if row:  # a blank line is not a record
                yield start, row
            lines.take()  # the record's text, if its consumer did not take it
    except csv.Error as exc:
        raise UnreadableFile(f"the record starting on line {end + 1}: {exc}") from None


def _json_array(stream: BinaryIO) -> Iterator[tuple[int, object]]:
    stream = io.BufferedReader(_DigitRunGuard(stream), buffer_size=64 * 1024)
    first = _first_significant_byte(stream)
    if first != b"[":
        found = "nothing" if not first else f"{first.decode('latin-1')!r}"
        raise UnreadableFile(f"the JSON body must be an array of case objects; it starts with {found}")
    index = 0
    try:
        for index, element in enumerate(ijson.items(stream, "item", use_float=False), start=1):
            yield index, element
    except ijson.JSONError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableFile(f"malformed JSON after element {index}: {detail}") from None


def _first_significant_byte(stream) -> bytes:
    """Skip a BOM and leading whitespace; the next byte, not consumed (b"" at the end)."""
    if stream.peek(3)[:3] == _BOM:
        stream.read(3)
    while True:
        head = stream.peek(1)[:1]
        if not head or head not in _JSON_SPACE:
            return head
        stream.read(1)


class _DigitRunGuard(io.RawIOBase):
    """Refuses a run of digits longer than Python converts to int, before the parser sees it.

    ijson's C backend crashes the process (segfault, ijson 3.4) on an integer literal longer
    than `sys.get_int_max_str_digits()`; no real amount is that long, so the file is refused.
    """

    _LIMIT = sys.get_int_max_str_digits() or 4300
    _RUN = re.compile(rb"[0-9]{%d,}" % (_LIMIT + 1))
    _HEAD = re.compile(rb"[0-9]*")
    _TAIL = re.compile(rb"[0-9]*\Z")

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._offset = 0
        self._tail = 0  # digits at the end of what was read so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        self._check(data)
        buffer[: len(data)] = data
        return len(data)

    def _check(self, data: bytes) -> None:
        head = self._HEAD.match(data).end()
        if self._tail + head > self._LIMIT:
            self._refuse(self._offset - self._tail)
        if run := self._RUN.search(data):
            self._refuse(self._offset + run.start())
        self._tail = self._tail + head if head == len(data) else len(self._TAIL.search(data).group())
        self._offset += len(data)

    def _refuse(self, offset: int):
        raise UnreadableFile(f"a number at byte offset {offset} has more than {self._LIMIT} digits")


def _ndjson(stream: BinaryIO) -> Iterator[tuple[int, object]]:
    for line_no, line in enumerate(_text(stream), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line, parse_float=Decimal, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            yield line_no, Unreadable(line.rstrip("\r\n"), f"not valid JSON: {exc}")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def locate_invalid_utf8(stream: BinaryIO, chunk_bytes: int = 1 << 20) -> tuple[int, int, int] | None:
    """(byte offset, line, byte value) of the first byte that is not UTF-8; None if all is."""
    decoder = _Utf8()
    offset, line, last_cr = 0, 1, False
    while chunk := stream.read(chunk_bytes):
        pending = decoder.pending
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            bad = offset - pending + exc.start
            before = chunk[: max(bad - offset, 0)]
            return bad, line + _line_breaks(before, last_cr), (exc.object[exc.start])
        line += _line_breaks(chunk, last_cr)
        last_cr = chunk.endswith(b"\r")
        offset += len(chunk)
    if decoder.pending:  # the file ends inside a multi-byte sequence
        return offset - decoder.pending, line, decoder.held[0]
    return None


def _line_breaks(data: bytes, after_cr: bool) -> int:
    """Line ends in `data` (\\r\\n, \\r or \\n), not counting a \\n that completes a \\r\\n."""
    count = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return count - 1 if after_cr and data.startswith(b"\n") else count


class _Utf8:
    """A strict incremental UTF-8 decoder that says which bytes it holds back."""

    def __init__(self):
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")

    @property
    def held(self) -> bytes:
        return self._decoder.getstate()[0]

    @property
    def pending(self) -> int:
        return len(self.held)

    def decode(self, data: bytes) -> str:
        return self._decoder.decode(data)


def batched(rows: Iterator, size: int) -> Iterator[list]:
    """Lists of `size` items (the last one shorter) from `rows`: what one COPY of a batch takes."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def json_text(value, depth: int = 0) -> str:
    """JSON text of a parsed value; Decimal numbers are written exactly as they were parsed."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if depth >= _MAX_DEPTH:
        return json.dumps(f"(nested deeper than {_MAX_DEPTH} levels; not kept)")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json_text(str(k))}:{json_text(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v, depth + 1) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)

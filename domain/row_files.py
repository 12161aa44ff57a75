"""What the files of checked rows share (a bank's payments file, a dialer's log): the header mapped
to their columns, each record's values in the columns' order, and staging in batches.

A CSV header may name the columns in any order and case; a row with fewer fields than the header
has None for the rest, one with more is a problem of its shape. A JSON object may hold the keys in
any order and case; one naming a column twice is a problem of its shape.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Protocol

from domain import case_rules, readers
from domain.case_rules import ROW, Problem, column_key
from domain.errors import JobFailed
from domain.job_runner import Progress
from domain.read_ahead import ReadAhead

BATCH_ROWS = 10_000  # rows staged per round trip; progress (a cancel checkpoint) is reported per batch

# (line, the record's values in the order of the columns (None where absent), or None for a record
# that is not one; the problems of its shape)
Values = tuple[int, Sequence | None, list[Problem]]


class Stager(Protocol):
    def stage(self, rows: list[tuple]) -> None: ...


def stage(store: Stager, rows: Iterator[tuple], progress: Progress) -> int:
    """Stage the rows in batches, the next batch read while the last is stored; returns the count."""
    done = 0
    with ReadAhead(readers.batched(rows, BATCH_ROWS)) as ahead:
        for batch in ahead:
            store.stage(batch)
            done += len(batch)
            progress.advance(done)
    progress.advance(done, force=True)
    return done


def values(records: readers.Records, columns: tuple[str, ...], required: tuple[str, ...], *,
           noun: str) -> Iterator[Values]:
    """Each record's values; a CSV header without a required column, or naming one twice, fails
    the job at once. `noun` names the rows in messages ("payment", "contact")."""
    if records.columns is None:
        return _json_values(records.rows, columns, noun)
    positions, missing, duplicated = column_positions(records.columns, columns, required)
    if missing:
        optional = [c for c in columns if c not in required]
        raise JobFailed("Missing columns", f"the header has no column {', '.join(missing)} (expected "
                                           f"{', '.join(required)} and optionally {', '.join(optional)}, "
                                           "in any order and case)")
    if duplicated:
        raise JobFailed("Ambiguous columns", f"the header names {', '.join(duplicated)} more than once")
    return _csv_values(records.rows, positions, len(records.columns))


def column_positions(names: Sequence, columns: tuple[str, ...],
                     required: tuple[str, ...]) -> tuple[tuple, list[str], list[str]]:
    """For each of `columns`, the position of the name holding it (None when absent); the required
    columns missing; the columns named more than once."""
    found: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        found.setdefault(column_key(str(name)), []).append(position)
    return (tuple(found[c][0] if c in found else None for c in columns), [c for c in required if c not in found],
            [c for c in columns if len(found.get(c, ())) > 1])


def _csv_values(rows, positions: tuple, width: int) -> Iterator[Values]:
    pick = itemgetter(*(width if p is None else p for p in positions))  # position `width`: the None padding
    for line, row in rows:
        if len(row) == width:
            yield line, pick([*row, None]), []
        else:
            extra = [case_rules.field_count(len(row), width)] if len(row) > width else []
            fields = row[:width]
            yield line, pick([*fields, *[None] * (width + 1 - len(fields))]), extra


def _json_values(rows, columns: tuple[str, ...], noun: str) -> Iterator[Values]:
    @lru_cache(maxsize=256)  # objects of one file mostly share their keys
    def keys_of(names: tuple) -> tuple[tuple, list[Problem]]:
        positions, _, duplicated = column_positions(names, columns, ())
        keys = tuple(None if p is None else names[p] for p in positions)
        return keys, [case_rules.duplicated_keys(duplicated)] if duplicated else []

    for line, value in rows:
        if isinstance(value, readers.Unreadable):
            yield line, None, [Problem(ROW, value.reason)]
        elif not isinstance(value, dict):
            yield line, None, [Problem(ROW, f"must be a JSON object with the {noun} columns")]
        else:
            keys, shape = keys_of(tuple(value))
            yield line, [None if k is None else value[k] for k in keys], shape

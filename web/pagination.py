"""Opaque keyset cursors: the client gets a token, the store gets the last row's sort key."""
from __future__ import annotations

import base64
import json
from collections.abc import Callable

from domain.errors import InvalidInput

MAX_CURSOR_LENGTH = 512  # the cursors this API issues are far shorter


def invalid_cursor(detail: str = "cursor is not valid") -> InvalidInput:
    """The one error for a cursor this API did not issue."""
    return InvalidInput(detail, {"cursor": ["not a cursor this API issued"]})


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *parsers: Callable) -> list | None:
    """The cursor's values, each passed through its parser (any failure: 400, never a 500)."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid_cursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or (parsers and len(values) != len(parsers)):
            raise ValueError("wrong shape")
        if any(isinstance(v, (list, dict)) for v in values):
            raise ValueError("nested values")
        return [parse(value) for parse, value in zip(parsers, values)] if parsers else values
    except (ValueError, TypeError, AttributeError, OverflowError, RecursionError):
        raise invalid_cursor() from None


def strict_int(value) -> int:
    """An int that came as a JSON integer (not a bool, float or string)."""
    if type(value) is not int:
        raise TypeError("not an integer")
    return value


def page(items: list, limit: int, key) -> dict:
    """`{"items", "next_cursor"}` from up to limit+1 fetched rows."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(key(items[-1])) if more and items else None}

"""Opaque keyset cursors: the client gets a token, the store gets the last row's sort key."""
from __future__ import annotations

import base64
import json

from domain.errors import InvalidInput


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise InvalidInput("cursor is not valid", {"cursor": ["not a cursor this API issued"]}) from None
    if not isinstance(values, list):
        raise InvalidInput("cursor is not valid", {"cursor": ["not a cursor this API issued"]})
    return values


def page(items: list, limit: int, key) -> dict:
    """`{"items", "next_cursor"}` from up to limit+1 fetched rows."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(key(items[-1])) if more and items else None}

"""Values as received, made storable: PostgreSQL text holds no NUL, JSONB no lone surrogate.

Such characters become U+FFFD in the raw record; the row rules reject them in case fields.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal

_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_DEPTH = 64  # deeper JSON is summarized rather than recursed into


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def storable_values(values) -> list:
    """A row of raw strings (None for a missing field), each made storable."""
    return [None if v is None else storable(v) for v in values]


def json_text(value, depth: int = 0) -> str:
    """JSON text of a parsed value; Decimal numbers are written exactly as they were parsed."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(storable(value), ensure_ascii=False)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if depth >= _MAX_DEPTH:
        return json.dumps(f"(nested deeper than {_MAX_DEPTH} levels; not kept)")
    if isinstance(value, dict):
        items = (f"{json_text(str(k))}:{json_text(v, depth + 1)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v, depth + 1) for v in value) + "]"
    return json.dumps(storable(str(value)), ensure_ascii=False)

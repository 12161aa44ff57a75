"""URL converters bounded by what the database stores, so no path reaches PostgreSQL out of range."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1  # ids are BIGINT


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number above MAX_ID names nothing, so it matches no route (404)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)

"""Promises to pay: take one, cancel it, a case's promises, the promises job."""
from __future__ import annotations

from sqlalchemy import Connection


class PromiseStore:
    def __init__(self, conn: Connection):
        self.conn = conn

"""The bank's payments file, set-based: staged rows checked, applied, duplicates and errors kept."""
from __future__ import annotations

from sqlalchemy import Connection


class PaymentFileStore:
    def __init__(self, conn: Connection):
        self.conn = conn

"""The payments ledger: one payment, its reversal, a case's payments."""
from __future__ import annotations

from sqlalchemy import Connection


class PaymentStore:
    def __init__(self, conn: Connection):
        self.conn = conn

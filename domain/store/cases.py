"""cases storage (being built)."""
from sqlalchemy import Connection


class CaseStore:
    def __init__(self, conn: Connection):
        self.conn = conn

"""analytics storage (being built)."""
from sqlalchemy import Connection


class AnalyticsStore:
    def __init__(self, conn: Connection):
        self.conn = conn

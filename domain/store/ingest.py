"""ingest storage (being built)."""
from sqlalchemy import Connection


class IngestStore:
    def __init__(self, conn: Connection):
        self.conn = conn

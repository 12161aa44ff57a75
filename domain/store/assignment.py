"""assignment storage (being built)."""
from sqlalchemy import Connection


class AssignmentStore:
    def __init__(self, conn: Connection):
        self.conn = conn

"""uploads storage (being built)."""
from sqlalchemy import Connection


class UploadStore:
    def __init__(self, conn: Connection):
        self.conn = conn

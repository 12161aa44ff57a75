"""The contact policy's settings: one row holding the JSON document (domain.contact_settings)."""
from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from store.tables import contact_policy


class ContactPolicyStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def get(self) -> dict | None:
        return self.conn.execute(select(contact_policy.c.settings).where(contact_policy.c.id == 1)).scalar()

    def put(self, document: dict, *, by: int | None) -> None:
        values = {"settings": document, "updated_by": by, "updated_at": func.statement_timestamp()}
        self.conn.execute(insert(contact_policy).values(id=1, **values)
                          .on_conflict_do_update(index_elements=[contact_policy.c.id], set_=values))

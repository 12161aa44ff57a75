"""Users table access."""
from __future__ import annotations

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from domain.users import Role, User
from store.tables import users


def _to_user(row) -> User:
    return User(id=row.id, email=row.email, name=row.name, role=Role(row.role), active=row.active,
                created_at=row.created_at, password_hash=row.password_hash)


class UserStore:
    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, *, email: str, name: str, password_hash: str, role: Role) -> User | None:
        """The new user; None when the email is taken (users_email_key)."""
        row = self.conn.execute(
            insert(users).values(email=email, name=name, password_hash=password_hash, role=role.value)
            .on_conflict_do_nothing().returning(users)
        ).first()
        return _to_user(row) if row else None

    def get(self, user_id: int, *, for_update: bool = False) -> User | None:
        query = select(users).where(users.c.id == user_id)
        if for_update:
            # NO KEY UPDATE: history rows naming the user (a foreign key) may still be written
            query = query.with_for_update(key_share=True)
        row = self.conn.execute(query).first()
        return _to_user(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        row = self.conn.execute(select(users).where(func.lower(users.c.email) == email.strip().lower())).first()
        return _to_user(row) if row else None

    def update(self, user_id: int, **changes) -> User:
        if "role" in changes:
            changes["role"] = changes["role"].value
        row = self.conn.execute(
            update(users).where(users.c.id == user_id).values(**changes, updated_at=func.now()).returning(users)
        ).one()
        return _to_user(row)

    def list(self, *, role: str | None, active: bool | None, after_id: int | None, limit: int) -> list[User]:
        query = select(users)
        if role:
            query = query.where(users.c.role == role)
        if active is not None:
            query = query.where(users.c.active == active)
        if after_id is not None:
            query = query.where(users.c.id > after_id)
        return [_to_user(r) for r in self.conn.execute(query.order_by(users.c.id).limit(limit))]

    def count(self) -> int:
        return self.conn.execute(select(func.count()).select_from(users)).scalar_one()

    def active_agents(self, role: Role) -> list[User]:
        rows = self.conn.execute(
            select(users).where(users.c.role == role.value, users.c.active.is_(True)).order_by(users.c.id)
        )
        return [_to_user(r) for r in rows]

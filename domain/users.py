"""Users, roles and teams; the use cases of the users API and of logging in."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from domain.errors import Conflict, InvalidInput, NotFound, Unauthorized
from domain.events import CasesChanged
from domain.security import hash_password, verify_password

if TYPE_CHECKING:  # domain.stores speaks of users
    from domain.unit_of_work import UnitOfWork


class Role(str, enum.Enum):
    ADMIN = "admin"
    CALL_CENTER_AGENT = "call_center_agent"
    FIELD_AGENT = "field_agent"
    LEGAL_TEAM = "legal_team"


class Team(str, enum.Enum):
    CALL_CENTER = "call_center"
    FIELD = "field"
    LEGAL = "legal"


TEAM_OF_ROLE = {
    Role.ADMIN: None,
    Role.CALL_CENTER_AGENT: Team.CALL_CENTER,
    Role.FIELD_AGENT: Team.FIELD,
    Role.LEGAL_TEAM: Team.LEGAL,
}

MIN_PASSWORD_LENGTH = 8


@dataclass
class User:
    id: int
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime | None = None
    password_hash: str | None = None

    @property
    def team(self) -> Team | None:
        return TEAM_OF_ROLE[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password too short",
                           {"password": [f"must be at least {MIN_PASSWORD_LENGTH} characters"]})


def authenticate(uow: UnitOfWork, email: str, password: str) -> User:
    """The active user with these credentials; one error for every kind of failure."""
    user = uow.users.get_by_email(email)
    if not verify_password(user.password_hash if user else None, password) or not user.active:
        raise Unauthorized("wrong email or password")
    return user


def create_user(uow: UnitOfWork, *, email: str, name: str, password: str, role: Role) -> User:
    """Create a user; 409 when the email is taken (case-insensitively)."""
    _check_password(password)
    if uow.users.get_by_email(email) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = uow.users.add(email=email.strip(), name=name.strip(), password_hash=hash_password(password), role=role)
    if user is None:  # taken by a concurrent request since the check above
        raise Conflict(f"a user with email {email} already exists")
    uow.commit()
    return user


def update_user(uow: UnitOfWork, user_id: int, *, by: int, name: str | None = None, role: Role | None = None,
                active: bool | None = None, password: str | None = None) -> User:
    """Change a user; an agent leaving its team (deactivated or new role) gives up its open cases."""
    if user_id == by and (active is False or (role is not None and role is not Role.ADMIN)):
        raise Conflict("admins cannot deactivate or demote themselves; ask another admin")
    if role is not None or active is not None:
        # before the user's row lock: a running assignment (which holds this lock and may be
        # waiting to reference the row) finishes first, and then no run hands this agent cases
        uow.assignment.serialize_runs()
    user = uow.users.get(user_id, for_update=True)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    changes = {}
    if name is not None:
        changes["name"] = name.strip()
    if role is not None:
        changes["role"] = role
    if active is not None:
        changes["active"] = active
    if password is not None:
        _check_password(password)
        changes["password_hash"] = hash_password(password)
    updated = uow.users.update(user_id, **changes) if changes else user
    leaves_team = user.team is not None and (not updated.active or updated.team != user.team)
    if leaves_team:
        reason = "agent deactivated" if not updated.active else f"agent moved to role {updated.role.value}"
        if uow.assignment.release_agent_cases(user_id, by=by, reason=reason):
            uow.record(CasesChanged("agent released"))
    uow.commit()
    return updated


def get_user(uow: UnitOfWork, user_id: int) -> User:
    """The user; NotFound otherwise."""
    user = uow.users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(uow: UnitOfWork, *, role: Role | None, active: bool | None, after_id: int | None,
               limit: int) -> list[User]:
    """Users in id order after `after_id` (keyset), optionally of one role and activity."""
    return uow.users.list(role=role.value if role else None, active=active, after_id=after_id, limit=limit)


DEMO_PASSWORD = "password123"


def demo_users() -> list[tuple[str, str, Role]]:
    """The demo accounts of standalone mode: (email, name, role)."""
    people = [("admin@example.com", "Admin", Role.ADMIN)]
    for prefix, label, role in (("callcenter", "Call Center Agent", Role.CALL_CENTER_AGENT),
                                ("field", "Field Agent", Role.FIELD_AGENT),
                                ("legal", "Legal Team", Role.LEGAL_TEAM)):
        people += [(f"{prefix}{n}@example.com", f"{label} {n}", role) for n in (1, 2, 3)]
    return people


def seed_demo_users(uow: UnitOfWork) -> list[tuple[str, str, Role]]:
    """Create the demo users when the database has no user at all; returns those created."""
    if uow.users.count() > 0:
        return []
    people = demo_users()
    hashed = hash_password(DEMO_PASSWORD)
    for email, name, role in people:
        uow.users.add(email=email, name=name, password_hash=hashed, role=role)
    uow.commit()
    return people

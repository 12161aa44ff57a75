"""The caller of a use case, as the rules of who-sees-what need it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    """Who is asking: admins see everything, everyone else only their own."""

    user_id: int
    is_admin: bool

"""Users API (admin only): list, create, read, change; changing an agent may release its cases."""
from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import current_user

from domain import users as user_cases
from web.auth import admin_required
from web.extensions import unit_of_work
from web.pagination import decode_cursor, page, strict_int
from web.schemas.users import UserCreateSchema, UserListArgs, UserPageSchema, UserSchema, UserUpdateSchema
from web.smorest import Blueprint

blp = Blueprint("users", __name__, url_prefix="/api/users", description="Users and roles (admin only)")


def _after_id(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, strict_int)
    return values[0] if values else None


def _role(value: str | None) -> user_cases.Role | None:
    return user_cases.Role(value) if value is not None else None


@blp.route("")
class Users(MethodView):
    @admin_required
    @blp.arguments(UserListArgs, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """Users in id order, optionally filtered by role and activity."""
        with unit_of_work() as uow:
            items = user_cases.list_users(uow, role=_role(args.get("role")), active=args.get("active"),
                                          after_id=_after_id(args["cursor"]), limit=args["limit"] + 1)
        return page(items, args["limit"], key=lambda u: [u.id])

    @admin_required
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="A user with this email exists")
    def post(self, body):
        """Create a user."""
        with unit_of_work() as uow:
            return user_cases.create_user(uow, email=body["email"], name=body["name"], password=body["password"],
                                          role=_role(body["role"]))


@blp.route("/<int:user_id>")
class UserById(MethodView):
    @admin_required
    @blp.response(200, UserSchema)
    def get(self, user_id: int):
        """A user."""
        with unit_of_work() as uow:
            return user_cases.get_user(uow, user_id)

    @admin_required
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(409, description="An admin deactivating or demoting itself")
    def patch(self, changes, user_id: int):
        """Change a user; deactivating an agent or changing its role releases its open cases."""
        with unit_of_work() as uow:
            return user_cases.update_user(uow, user_id, by=current_user.id, name=changes.get("name"),
                                          role=_role(changes.get("role")), active=changes.get("active"),
                                          password=changes.get("password"))

"""Authentication: JWT access and refresh tokens sharing a session id that logout revokes."""
from __future__ import annotations

import uuid
from datetime import timedelta
from functools import wraps

from flask import Flask, g
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    current_user,
    get_jwt,
    jwt_required,
)

from domain import users as user_cases
from domain.errors import Forbidden
from domain.viewer import Viewer
from web.errors import problem
from web.extensions import jwt, limiter, reading, redis_client, settings, unit_of_work
from web.schemas.users import AccessTokenSchema, LoginSchema, TokenPairSchema, UserSchema
from web.smorest import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Log in, refresh, log out")

_REVOKED = "dcoe:revoked-session:"


def _revoke_session(sid: str) -> None:
    # kept as long as a refresh token of the session could live
    redis_client().set(_REVOKED + sid, 1, ex=int(timedelta(days=settings().refresh_token_days).total_seconds()) + 60)


@blp.route("/login", methods=["POST"])
@limiter.limit(lambda: settings().login_rate_limit)
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
@blp.doc(security=[])
def login(credentials):
    """Exchange email and password for an access and a refresh token."""
    with unit_of_work() as uow:
        user = user_cases.authenticate(uow, credentials["email"], credentials["password"])
    claims = {"sid": uuid.uuid4().hex, "role": user.role.value}
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": settings().access_token_minutes * 60,
        "user": user,
    }


@blp.route("/refresh", methods=["POST"])
@jwt_required(refresh=True)
@blp.response(200, AccessTokenSchema)
def refresh():
    """A new access token for the refresh token's session (Bearer refresh token)."""
    claims = get_jwt()
    token = create_access_token(identity=str(current_user.id),
                                additional_claims={"sid": claims["sid"], "role": current_user.role.value})
    return {"access_token": token, "expires_in": settings().access_token_minutes * 60}


@blp.route("/logout", methods=["POST"])
@jwt_required()
@blp.response(204)
def logout():
    """End the session: its access and refresh tokens stop working at once."""
    _revoke_session(get_jwt()["sid"])


@blp.route("/me")
@jwt_required()
@blp.response(200, UserSchema)
def me():
    """The caller."""
    return current_user


def admin_required(view):
    """Authenticated and an admin, else 401 / 403."""

    @wraps(view)
    @jwt_required()
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            raise Forbidden("this action needs the admin role")
        return view(*args, **kwargs)

    return wrapper


def viewer() -> Viewer:
    """The caller as the domain sees it."""
    return Viewer(user_id=current_user.id, is_admin=current_user.is_admin)


def init_app(app: Flask) -> None:
    """Token settings and the 401 answers."""
    cfg = app.extensions["dcoe"].settings
    app.config.update(
        JWT_SECRET_KEY=cfg.jwt_secret,
        JWT_ALGORITHM="HS256",
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=cfg.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=cfg.refresh_token_days),
        JWT_ERROR_MESSAGE_KEY="detail",
    )
    jwt.init_app(app)

    @jwt.user_lookup_loader
    def _load_user(_header, payload):
        cached = g.get("dcoe_user")
        if cached is not None and str(cached.id) == payload["sub"]:
            return cached
        with reading() as uow:
            user = uow.users.get(int(payload["sub"]))
        if user is None or not user.active:
            return None
        g.dcoe_user = user
        return user

    @jwt.token_in_blocklist_loader
    def _revoked(_header, payload):
        sid = payload.get("sid")
        return sid is None or bool(redis_client().exists(_REVOKED + sid))

    def unauthorized(detail):
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})

    jwt.unauthorized_loader(lambda reason: unauthorized("missing bearer token"))
    jwt.invalid_token_loader(lambda reason: unauthorized("invalid token"))
    jwt.expired_token_loader(lambda h, p: unauthorized("token expired"))
    jwt.revoked_token_loader(lambda h, p: unauthorized("token revoked"))
    jwt.needs_fresh_token_loader(lambda h, p: unauthorized("fresh token required"))
    jwt.user_lookup_error_loader(lambda h, p: unauthorized("user unknown or deactivated"))
    jwt.token_verification_failed_loader(lambda h, p: unauthorized("token rejected"))

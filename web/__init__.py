"""The Flask app factory."""
from __future__ import annotations

from flask import Flask

from dcoe.config import Settings

# A JSON body (a login, a status change, the routing bands) is small: a view never buffers more.
MAX_JSON_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the API; `settings` defaults to the environment (with the embedded servers)."""
    if settings is None:
        from dcoe import servers

        settings = servers.settings()
    settings.validate()
    app = Flask(__name__)
    from web.converters import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added: every <int:id> is bounded
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_JSON_BODY_BYTES,  # the upload route raises it to MAX_UPLOAD_BYTES for itself
        JSON_SORT_KEYS=False,
        API_TITLE="Debt collection orchestration engine",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="api-docs",
        OPENAPI_SWAGGER_UI_URL="/api-docs/assets/",  # served by this app: works offline
        RATELIMIT_STORAGE_URI=_limiter_storage(settings),
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,  # Redis down must not lock everyone out of logging in
        PROPAGATE_EXCEPTIONS=False,
    )
    from web.extensions import Resources, api, limiter

    app.extensions["dcoe"] = Resources(settings)
    from web import metrics, request_logs

    request_logs.init_app(app)  # first: every later hook logs with the request id
    metrics.init_app(app)  # and times requests from their start, those refused early (429) too

    from web import (
        analytics,
        assignment,
        auth,
        cases,
        contact_policy,
        contacts,
        contacts_upload,
        docs,
        errors,
        health,
        holds,
        jobs,
        payments,
        payments_upload,
        promises,
        uploads,
        users,
    )

    api.init_app(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    limiter.init_app(app)
    auth.init_app(app)
    for module in (health, auth, users, jobs, uploads, cases, assignment, analytics, payments_upload, payments,
                   promises, contacts_upload, contacts, holds, contact_policy):
        api.register_blueprint(module.blp)
    docs.init_app(app)
    errors.init_app(app)
    return app


def _limiter_storage(settings: Settings) -> str:
    from dcoe.servers import limiter_storage_url

    return limiter_storage_url(settings.redis_url)

"""Liveness and readiness; public by contract."""
from __future__ import annotations

from flask import current_app

from store.engine import database_answers
from web.extensions import celery_client, engine, redis_client
from web.metrics import queue_depths
from web.schemas.common import HealthSchema, ReadySchema
from web.smorest import Blueprint

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness and readiness")


@blp.route("")
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def health():
    """The process answers (no dependency is checked)."""
    return {"status": "ok"}


@blp.route("/ready")
@blp.doc(security=[])
@blp.response(200, ReadySchema)
@blp.alt_response(503, schema=ReadySchema, description="A dependency does not answer")
def ready():
    """PostgreSQL and Redis answer; reports the live Celery workers and the messages waiting per queue."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    workers = _count_workers() if checks["redis"] == "ok" else 0
    queues = _queue_depths() if checks["redis"] == "ok" else {}
    ok = all(state == "ok" for state in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks, "workers": workers, "queues": queues}
    return body, 200 if ok else 503


def _check_database() -> str:
    if database_answers(engine()):
        return "ok"
    current_app.logger.warning("readiness: database check failed")
    return "unavailable"


def _check_redis() -> str:
    try:
        redis_client().ping()
        return "ok"
    except Exception:  # noqa: BLE001
        current_app.logger.warning("readiness: redis check failed")
        return "unavailable"


def _queue_depths() -> dict[str, int]:
    try:
        return queue_depths(redis_client())
    except Exception:  # noqa: BLE001 - Redis went away since the check: nothing to report
        return {}


def _count_workers() -> int:
    try:
        replies = celery_client().control.ping(timeout=0.5) or []
        return len(replies)
    except Exception:  # noqa: BLE001
        return 0

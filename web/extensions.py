"""Extensions, bound to the app in create_app with init_app; process resources per app."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis
from celery import Celery
from flask import current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from dcoe.bus import message_bus
from dcoe.config import Settings
from dcoe.queue import CeleryJobQueue, task_routes
from dcoe.servers import redis_client_url
from domain.messagebus import MessageBus
from store.engine import get_engine
from store.uow import UnitOfWork
from web.smorest import Api

api = Api()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


@dataclass
class Resources:
    """The servers this app talks to, created on first use (not at import, not at startup)."""

    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(redis_client_url(self.settings.redis_url), socket_timeout=2,
                                    socket_connect_timeout=2, health_check_interval=30)

    @cached_property
    def bus(self) -> MessageBus:
        """The web's message bus: what follows the changes its requests commit."""
        return message_bus(lambda: self.celery, lambda: self.redis,
                           lambda: UnitOfWork(get_engine(self.settings.database_url, jit=False)))

    @cached_property
    def celery(self) -> Celery:
        app = Celery("dcoe-web", broker=self.settings.redis_url)
        app.conf.update(task_routes=task_routes(), broker_connection_timeout=2,
                        broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2})
        return app


def resources() -> Resources:
    return current_app.extensions["dcoe"]


def settings() -> Settings:
    return resources().settings


def engine():
    return get_engine(settings().database_url, jit=False)


def redis_client() -> redis.Redis:
    return resources().redis


def celery_client() -> Celery:
    return resources().celery


def unit_of_work() -> UnitOfWork:
    """A new unit of work on the app's database; its committed events go to the web's bus."""
    return UnitOfWork(engine(), publish=resources().bus.publish)


def reading() -> UnitOfWork:
    """A unit of work for a use case that only reads (a GET): its statements run without a
    transaction around them."""
    return UnitOfWork(engine(), read_only=True)


def enqueue():
    """The job queue (send-only Celery client)."""
    return CeleryJobQueue(celery_client())

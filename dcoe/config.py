"""The one place configuration is read: environment variables (12-factor).

`.env.example` lists every variable with its default; keep the two in step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path

from dcoe.logs import LOG_FORMATS
from domain.promises import PromiseTerms

DEFAULT_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"


class ConfigError(RuntimeError):
    """The configuration cannot be used (e.g. production with a default secret)."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _database_url(raw: str | None) -> str | None:
    """The URL with the psycopg 3 driver: hosting platforms hand out postgres:// URLs."""
    if not raw:
        return None
    scheme, separator, rest = raw.partition("://")
    if separator and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return raw


# field -> its variable; zero would mean an endless loop or a system that does nothing
_MUST_BE_POSITIVE = {
    "upload_chunk_bytes": "UPLOAD_CHUNK_BYTES", "max_upload_bytes": "MAX_UPLOAD_BYTES",
    "job_max_attempts": "JOB_MAX_ATTEMPTS", "web_workers": "WEB_CONCURRENCY",
    "task_time_limit_seconds": "TASK_TIME_LIMIT_SECONDS", "job_stale_seconds": "JOB_STALE_SECONDS",
    "access_token_minutes": "ACCESS_TOKEN_MINUTES", "refresh_token_days": "REFRESH_TOKEN_DAYS",
}


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    home: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str = DEFAULT_JWT_SECRET
    access_token_minutes: int = 15
    refresh_token_days: int = 7
    port: int = 5000
    flower_port: int = 5555
    flower_user: str = "admin"
    flower_password: str = "password123"
    web_workers: int = 2
    max_upload_bytes: int = 512 * 1024 * 1024
    upload_chunk_bytes: int = 1024 * 1024
    login_rate_limit: str = "10 per minute"
    assign_interval_seconds: int = 300
    analytics_interval_seconds: int = 60
    reconcile_interval_seconds: int = 15
    job_stale_seconds: int = 60
    job_max_attempts: int = 3
    task_time_limit_seconds: int = 3600
    log_level: str = "INFO"
    log_format: str = "auto"  # auto: text on a terminal, JSON otherwise
    metrics_token: str | None = None  # unset: /metrics answers 401 to everybody
    promise_max_days: int = 30  # a promise falls due at most this many days ahead
    promise_grace_days: int = 2  # days after its due date before an unkept promise closes
    promise_kept_percent: int = 100  # share of the promised amount that keeps it, 1..100
    promise_interval_seconds: int = 3600  # beat's promises job; 0: off
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def embedded(self) -> bool:
        """True when PostgreSQL and/or Redis are the ones started by the app itself."""
        return self.database_url is None or self.redis_url is None

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings from the process environment and validate them."""
        env = os.environ
        settings = cls(
            env=env.get("DCOE_ENV", "development"),
            home=Path(env.get("DCOE_HOME", "var")).resolve(),
            database_url=_database_url(env.get("DATABASE_URL")),
            redis_url=env.get("REDIS_URL") or None,
            jwt_secret=env.get("JWT_SECRET_KEY") or DEFAULT_JWT_SECRET,
            access_token_minutes=_int("ACCESS_TOKEN_MINUTES", 15),
            refresh_token_days=_int("REFRESH_TOKEN_DAYS", 7),
            port=_int("PORT", 5000),
            flower_port=_int("FLOWER_PORT", 5555),
            flower_user=env.get("FLOWER_USER", "admin"),
            flower_password=env.get("FLOWER_PASSWORD", "password123"),
            web_workers=_int("WEB_CONCURRENCY", 2),
            max_upload_bytes=_int("MAX_UPLOAD_BYTES", 512 * 1024 * 1024),
            upload_chunk_bytes=_int("UPLOAD_CHUNK_BYTES", 1024 * 1024),
            login_rate_limit=env.get("LOGIN_RATE_LIMIT", "10 per minute"),
            assign_interval_seconds=_int("ASSIGN_INTERVAL_SECONDS", 300),
            analytics_interval_seconds=_int("ANALYTICS_INTERVAL_SECONDS", 60),
            reconcile_interval_seconds=_int("RECONCILE_INTERVAL_SECONDS", 15),
            job_stale_seconds=_int("JOB_STALE_SECONDS", 60),
            job_max_attempts=_int("JOB_MAX_ATTEMPTS", 3),
            task_time_limit_seconds=_int("TASK_TIME_LIMIT_SECONDS", 3600),
            log_level=env.get("LOG_LEVEL", "INFO"),
            log_format=env.get("LOG_FORMAT", "auto").strip().lower() or "auto",
            metrics_token=env.get("METRICS_TOKEN", "").strip() or None,  # a header value has no outer blanks
            promise_max_days=_int("PROMISE_MAX_DAYS", 30),
            promise_grace_days=_int("PROMISE_GRACE_DAYS", 2),
            promise_kept_percent=_int("PROMISE_KEPT_PERCENT", 100),
            promise_interval_seconds=_int("PROMISE_INTERVAL_SECONDS", 3600),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that must never reach production."""
        if self.env == "production":
            if self.jwt_secret == DEFAULT_JWT_SECRET or len(self.jwt_secret) < 32:
                raise ConfigError(
                    "DCOE_ENV=production needs JWT_SECRET_KEY set to a random value "
                    "of at least 32 characters"
                )
            if self.embedded:
                raise ConfigError("DCOE_ENV=production needs DATABASE_URL and REDIS_URL")
            if self.flower_password == "password123":
                raise ConfigError("DCOE_ENV=production needs FLOWER_PASSWORD set (not the demo password)")
            if self.metrics_token is not None and len(self.metrics_token) < 32:
                raise ConfigError(
                    "DCOE_ENV=production needs METRICS_TOKEN unset (/metrics closed) or a random value "
                    "of at least 32 characters"
                )
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")
        for f in fields(self):
            if f.type == "int" and getattr(self, f.name) < 0:
                raise ConfigError(f"{f.name.upper()} must not be negative")
        for name, variable in _MUST_BE_POSITIVE.items():
            if getattr(self, name) < 1:
                raise ConfigError(f"{variable} must be at least 1")
        if not 1 <= self.promise_kept_percent <= 100:
            raise ConfigError(f"PROMISE_KEPT_PERCENT must be between 1 and 100, got {self.promise_kept_percent}")

    @property
    def promise_terms(self) -> PromiseTerms:
        """The PROMISE_* settings as the promise rules take them."""
        return PromiseTerms(max_days=self.promise_max_days, grace_days=self.promise_grace_days,
                            kept_percent=Decimal(self.promise_kept_percent))

    def with_urls(self, database_url: str, redis_url: str) -> Settings:
        """A copy pointing at the given servers."""
        from dataclasses import replace

        return replace(self, database_url=database_url, redis_url=redis_url)

"""Configuration: read from the environment, refused when unsafe for production."""
from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from dcoe import config
from dcoe.config import DEFAULT_JWT_SECRET, ConfigError, Settings
from domain.promises import PromiseTerms

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "k" * 48
PRODUCTION = {
    "DCOE_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://dcoe@db:5432/dcoe",
    "REDIS_URL": "redis://redis:6379/0",
    "JWT_SECRET_KEY": STRONG_SECRET,
    "FLOWER_PASSWORD": "a-real-flower-password",
}


@pytest.fixture
def environ(monkeypatch):
    """A process environment holding none of the variables config.py reads."""
    for name in _variables_read_by_config():
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def _variables_read_by_config() -> set[str]:
    source = Path(config.__file__).read_text()
    return set(re.findall(r'(?:env\.get|_int)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def test_development_defaults_use_the_embedded_servers(environ):
    settings = Settings.from_env()
    assert settings.env == "development"
    assert settings.embedded
    assert (settings.port, settings.flower_port) == (5000, 5555)
    assert settings.home == Path("var").resolve()


def test_production_with_urls_and_a_strong_secret_starts(environ):
    environ(**PRODUCTION)
    settings = Settings.from_env()
    assert not settings.embedded
    assert settings.jwt_secret == STRONG_SECRET


def test_production_refuses_a_missing_jwt_secret(environ):
    environ(**{**PRODUCTION, "JWT_SECRET_KEY": ""})
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env()


def test_production_refuses_the_default_jwt_secret(environ):
    environ(**{**PRODUCTION, "JWT_SECRET_KEY": DEFAULT_JWT_SECRET})
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        Settings.from_env()


def test_production_refuses_a_short_jwt_secret(environ):
    environ(**{**PRODUCTION, "JWT_SECRET_KEY": "s" * 31})
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env()


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_external_servers(environ, missing):
    environ(**{**PRODUCTION, missing: ""})
    with pytest.raises(ConfigError, match="DATABASE_URL and REDIS_URL"):
        Settings.from_env()


def test_the_app_factory_refuses_production_settings_with_the_default_secret():
    from web import create_app

    unsafe = replace(Settings(), env="production", database_url=PRODUCTION["DATABASE_URL"],
                     redis_url=PRODUCTION["REDIS_URL"])
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        create_app(unsafe)


@pytest.mark.parametrize("name", ["PORT", "JOB_MAX_ATTEMPTS", "MAX_UPLOAD_BYTES"])
def test_a_non_integer_value_is_a_clear_error_naming_the_variable(environ, name):
    environ(**{name: "12abc"})
    with pytest.raises(ConfigError, match=f"{name} must be an integer, got '12abc'"):
        Settings.from_env()


def test_a_negative_integer_is_refused(environ):
    environ(JOB_STALE_SECONDS="-5")
    with pytest.raises(ConfigError, match="JOB_STALE_SECONDS must not be negative"):
        Settings.from_env()


def test_a_blank_integer_variable_falls_back_to_its_default(environ):
    environ(PORT="  ", FLOWER_PORT="6000")
    settings = Settings.from_env()
    assert (settings.port, settings.flower_port) == (5000, 6000)


def test_env_example_documents_exactly_the_variables_config_reads():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert documented == _variables_read_by_config()


@pytest.mark.parametrize("given", ["postgres://u:p@db:5432/dcoe", "postgresql://u:p@db:5432/dcoe",
                                   "postgresql+psycopg://u:p@db:5432/dcoe"])
def test_a_platforms_postgres_url_is_used_with_the_psycopg_driver(environ, given):
    environ(DATABASE_URL=given)
    assert Settings.from_env().database_url == "postgresql+psycopg://u:p@db:5432/dcoe"


def test_production_refuses_the_demo_flower_password(environ):
    environ(**{**PRODUCTION, "FLOWER_PASSWORD": "password123"})
    with pytest.raises(ConfigError, match="FLOWER_PASSWORD"):
        Settings.from_env()


@pytest.mark.parametrize("name", ["UPLOAD_CHUNK_BYTES", "JOB_MAX_ATTEMPTS", "WEB_CONCURRENCY"])
def test_a_zero_that_would_stall_the_system_is_refused(environ, name):
    environ(**{name: "0"})
    with pytest.raises(ConfigError, match=name):
        Settings.from_env()


@pytest.mark.parametrize("given, expected", [(None, "auto"), ("json", "json"), ("TEXT", "text"), (" ", "auto")])
def test_log_format_is_auto_unless_set_to_json_or_text(environ, given, expected):
    if given is not None:
        environ(LOG_FORMAT=given)
    assert Settings.from_env().log_format == expected


def test_an_unknown_log_format_is_refused_naming_the_choices(environ):
    environ(LOG_FORMAT="pretty")
    with pytest.raises(ConfigError, match="LOG_FORMAT must be one of auto, json, text, got 'pretty'"):
        Settings.from_env()


def test_metrics_token_is_unset_by_default_and_read_without_outer_blanks(environ):
    assert Settings.from_env().metrics_token is None
    environ(METRICS_TOKEN=" scrape-me \n")
    assert Settings.from_env().metrics_token == "scrape-me"


def test_production_refuses_a_short_metrics_token(environ):
    environ(**{**PRODUCTION, "METRICS_TOKEN": "m" * 31})
    with pytest.raises(ConfigError, match="METRICS_TOKEN .* at least 32"):
        Settings.from_env()


@pytest.mark.parametrize("token", ["", "m" * 32])
def test_production_starts_with_metrics_closed_or_behind_a_long_token(environ, token):
    environ(**{**PRODUCTION, "METRICS_TOKEN": token})
    assert Settings.from_env().metrics_token == (token or None)


def test_the_promise_settings_default_to_the_contracts_values_and_reach_the_rules_as_terms(environ):
    settings = Settings.from_env()
    assert (settings.promise_max_days, settings.promise_grace_days, settings.promise_kept_percent,
            settings.promise_interval_seconds) == (30, 2, 100, 3600)
    environ(PROMISE_MAX_DAYS="14", PROMISE_GRACE_DAYS="0", PROMISE_KEPT_PERCENT="80", PROMISE_INTERVAL_SECONDS="0")
    settings = Settings.from_env()
    assert settings.promise_terms == PromiseTerms(max_days=14, grace_days=0, kept_percent=Decimal(80))
    assert settings.promise_interval_seconds == 0  # beat's entry off


@pytest.mark.parametrize("percent", ["0", "101", "-5"])
def test_a_kept_percent_outside_1_to_100_is_refused(environ, percent):
    environ(PROMISE_KEPT_PERCENT=percent)
    with pytest.raises(ConfigError, match="PROMISE_KEPT_PERCENT"):
        Settings.from_env()


@pytest.mark.parametrize("name", ["PROMISE_MAX_DAYS", "PROMISE_GRACE_DAYS", "PROMISE_INTERVAL_SECONDS"])
def test_a_negative_promise_setting_is_refused(environ, name):
    environ(**{name: "-1"})
    with pytest.raises(ConfigError, match=name):
        Settings.from_env()

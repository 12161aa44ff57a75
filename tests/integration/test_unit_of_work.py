"""The unit of work on PostgreSQL: a writer's one transaction, a reader's statements on their own."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from store.uow import UnitOfWork


def test_a_writer_sees_one_transaction_and_leaving_without_commit_rolls_back(engine, clean_db):
    with UnitOfWork(engine) as uow:
        first = uow.connection.execute(text("SELECT txid_current()")).scalar_one()
        assert uow.connection.execute(text("SELECT txid_current()")).scalar_one() == first
        uow.connection.execute(text("CREATE TEMP TABLE probe (id int) ON COMMIT DROP"))
    with UnitOfWork(engine) as uow:
        assert uow.connection.execute(text("SELECT to_regclass('pg_temp.probe')")).scalar_one() is None


def test_a_reader_runs_each_statement_in_its_own_transaction(engine, clean_db):
    with UnitOfWork(engine, read_only=True) as uow:
        first = uow.connection.execute(text("SELECT txid_current()")).scalar_one()
        second = uow.connection.execute(text("SELECT txid_current()")).scalar_one()
        assert second != first  # no BEGIN around them: two statements, two transactions
        assert uow.connection.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"


def test_a_reader_refuses_to_commit_or_record_and_hands_a_writer_its_connection_back_transactional(engine, clean_db):
    with UnitOfWork(engine, read_only=True) as uow, pytest.raises(RuntimeError, match="reading unit of work"):
        uow.commit()
    with UnitOfWork(engine, read_only=True) as uow, pytest.raises(RuntimeError, match="reading unit of work"):
        uow.record(object())
    for _ in range(engine.pool.size() + 1):  # the pool hands connections out in turn: the reader's is one
        with UnitOfWork(engine) as uow:
            first = uow.connection.execute(text("SELECT txid_current()")).scalar_one()
            assert uow.connection.execute(text("SELECT txid_current()")).scalar_one() == first

"""Faults during ingestion: a worker SIGKILLed mid-file, requests racing with one Idempotency-Key."""
from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest
from celery import Celery
from sqlalchemy import text

from conftest import ROOT, Worker, eventually, settings_env
from domain import ingestion
from domain.jobs import JobState

ROWS = 200_000


def the_job(uow, job_id):
    with uow() as u:
        return u.jobs.get(job_id)


def scalar(uow, sql: str):
    with uow() as u:
        return u.connection.execute(text(sql)).one()


@pytest.fixture
def beat(settings, tmp_path):
    """Celery beat: it runs the reconciler every RECONCILE_INTERVAL_SECONDS (2 s in the tests)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--schedule", str(tmp_path / "schedule"),
         "--loglevel", "WARNING"],
        cwd=ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    yield proc
    proc.terminate()
    proc.wait(30)


@pytest.mark.slow
def test_a_worker_killed_mid_ingest_is_retried_and_every_row_lands_exactly_once(settings, uow, make_user, gen_cases,
                                                                                beat):
    admin = make_user("admin")
    # a queue of its own, so that no other worker of the test run takes the first attempt
    doomed = Worker(settings, queues="ingest-doomed", concurrency=1, name="doomed").start()
    sender = Celery(broker=settings.redis_url)
    try:
        with uow() as u:
            job, _ = ingestion.start_upload(
                u, body=io.BytesIO(gen_cases(ROWS)), fmt="csv", filename="big.csv", created_by=admin.id,
                chunk_bytes=settings.upload_chunk_bytes,
                enqueue=lambda j: sender.send_task("ingest.run", args=[str(j.id)], queue="ingest-doomed"))
        eventually(lambda: the_job(uow, job.id).progress_done > 0, 60, "progress of the first attempt")
        doomed.kill()
    finally:
        doomed.stop()
    killed = the_job(uow, job.id)
    assert (killed.state, killed.attempts) == (JobState.RUNNING, 1)  # it really died in the middle
    assert scalar(uow, "SELECT count(*) FROM cases_processed") == (0,)

    rescuer = Worker(settings, name="rescuer").start()
    try:
        done = eventually(lambda: (j := the_job(uow, job.id)).state.finished and j, 180, "the retried job")
    finally:
        rescuer.stop()
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 2)
    assert (done.result["rows_inserted"], done.result["rows_rejected"]) == (ROWS, 0)
    assert scalar(uow, "SELECT count(*), count(DISTINCT case_id) FROM cases_processed") == (ROWS, ROWS)
    assert scalar(uow, "SELECT count(*), count(DISTINCT line_no) FROM cases_raw") == (ROWS, ROWS)


@pytest.mark.slow
def test_cancelling_a_running_ingest_rolls_back_everything_it_did(settings, uow, make_user, gen_cases, worker):
    admin = make_user("admin")
    sender = Celery(broker=settings.redis_url)
    with uow() as u:
        job, _ = ingestion.start_upload(
            u, body=io.BytesIO(gen_cases(ROWS)), fmt="csv", filename="big.csv", created_by=admin.id,
            chunk_bytes=settings.upload_chunk_bytes,
            enqueue=lambda j: sender.send_task("ingest.run", args=[str(j.id)], queue="ingest"))
    eventually(lambda: the_job(uow, job.id).progress_done > 0, 60, "progress")
    with uow() as u:
        u.jobs.request_cancel(job.id)
        u.commit()
    done = eventually(lambda: (j := the_job(uow, job.id)).state.finished and j, 60, "the cancelled job")
    assert done.state is JobState.CANCELLED
    assert scalar(uow, "SELECT (SELECT count(*) FROM cases_processed), (SELECT count(*) FROM cases_raw), "
                       "(SELECT count(*) FROM ingest_errors)") == (0, 0, 0)


class _HeldBody:
    """A request body whose first read waits until the test lets it go."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)
        self.reading = threading.Event()
        self.release = threading.Event()

    def read(self, size: int = -1) -> bytes:
        self.reading.set()
        assert self.release.wait(30)
        return self._data.read(size)


def test_requests_racing_with_one_idempotency_key_store_one_job(uow, make_user, gen_cases, settings):
    admin = make_user("admin")
    data, results = gen_cases(10), {}
    held = _HeldBody(data)

    def upload(name, body):
        with uow() as u:
            results[name] = ingestion.start_upload(u, body=body, fmt="csv", filename=name, created_by=admin.id,
                                                   chunk_bytes=settings.upload_chunk_bytes, enqueue=lambda j: None,
                                                   idempotency_key="same-key")

    first = threading.Thread(target=upload, args=("first", held))
    second = threading.Thread(target=upload, args=("second", io.BytesIO(data)))
    first.start()
    assert held.reading.wait(30)  # the first job is inserted, not committed
    second.start()
    eventually(lambda: scalar(uow, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND datname = current_database()")[0], 30, "the second request waiting")
    held.release.set()
    first.join(30)
    second.join(30)
    (first_job, first_created), (second_job, second_created) = results["first"], results["second"]
    assert (first_created, second_created) == (True, False)
    assert second_job.id == first_job.id and second_job.params["filename"] == "first"
    assert scalar(uow, "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM uploads)") == (1, 1)


def everything_ingestion_writes(uow) -> tuple:
    """The tables an ingest job writes, as they stand: cases (values, version, assignment), raw rows,
    errors, assignments and status history."""
    def rows(sql):
        with uow() as u:
            return [tuple(r) for r in u.connection.execute(text(sql))]
    return (rows("SELECT case_id, due_amount::text, days_past_due, team::text, status::text, assigned_to, version,"
                 " last_job_id FROM cases_processed ORDER BY id"),
            rows("SELECT job_id, line_no FROM cases_raw"), rows("SELECT job_id, line_no FROM ingest_errors"),
            rows("SELECT case_pk, assigned_to, released_at FROM case_assignments ORDER BY id"),
            rows("SELECT case_pk, to_value::text FROM case_status_history"))


def test_a_job_failing_in_its_last_step_leaves_nothing_behind(settings, uow, engine, make_user, make_case,
                                                             monkeypatch):
    from domain.job_runner import run_job
    from store.ingest import IngestStore
    from store.uow import UnitOfWork

    admin, agent = make_user("admin"), make_user("field_agent")
    make_case(days_past_due=40, assigned_to=agent.id, status="In Progress")  # TEST-000001, field
    make_case(days_past_due=10)  # TEST-000002, call_center
    before = everything_ingestion_writes(uow)
    data = (b"case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority,region\n"
            b"TEST-000001,HDFC,B,5000,999,200,High,North\n"  # moves to legal: released
            b"TEST-000002,HDFC,B,5000,123,11,Low,North\n"  # changed
            b"NEW-1,HDFC,B,5000,1,1,Low,North\n"  # new
            b"NEW-2,HDFC,B,5000,1.001,1,Low,North\n"  # rejected
            b"NEW-1,HDFC,B,5000,1,1,Low,North\n")  # duplicate
    with uow() as u:
        job, _ = ingestion.start_upload(u, body=io.BytesIO(data), fmt="csv", filename="f.csv", created_by=admin.id,
                                        chunk_bytes=settings.upload_chunk_bytes, enqueue=lambda j: None)
    steps = []

    def failing_last_step(self, *args, **kwargs):  # the database refuses the job's last statement
        steps.append(everything_ingestion_writes(lambda: _Peek(self.conn)))
        self.conn.exec_driver_sql("SELECT 1 / 0")

    monkeypatch.setattr(IngestStore, "errors_sample", failing_last_step)
    with pytest.raises(Exception, match="division by zero"):
        run_job(job.id, lambda: UnitOfWork(engine), ingestion.ingest_upload, max_attempts=3)
    [inside] = steps  # what the job had written by then, seen from its own transaction
    assert len(inside[0]) == 3 and len(inside[1]) == 5 and len(inside[2]) == 2 and inside[3][0][2] is not None
    assert everything_ingestion_writes(uow) == before
    assert the_job(uow, job.id).state is JobState.RUNNING  # not succeeded: the reconciler retries or fails it


class _Peek:
    """A unit of work's stand-in that reads on a given connection (inside its transaction)."""

    def __init__(self, conn):
        self.connection = conn

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

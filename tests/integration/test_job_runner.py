"""The job harness and the reconciler on real PostgreSQL, with handlers defined here (no Celery)."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func

from domain.errors import JobFailed
from domain.job_runner import fail_unexpectedly, reconcile, run_job
from domain.jobs import JobState
from domain.users import Role

MAX_ATTEMPTS = 3
LONG_AGO = func.now() - timedelta(hours=1)


class Recorder:
    """A handler that records its calls, writes one row through the job's unit of work, then
    does what it was told (return a result, or raise)."""

    def __init__(self, outcome=None):
        self.calls = 0
        self.outcome = outcome

    def __call__(self, job, work, progress):
        self.calls += 1
        progress.set_total(4)
        work.users.add(email=f"written-by-{job.id}@example.com", name="side effect", password_hash="x",
                       role=Role.ADMIN)
        progress.advance(4, force=True)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome or {"rows": 4}


def _run(job_id, uow, handler):
    return run_job(job_id, uow, handler, max_attempts=MAX_ATTEMPTS)


def _job(uow, job_id):
    with uow() as u:
        return u.jobs.get(job_id)


def _side_effect_written(uow, job_id) -> bool:
    with uow() as u:
        return u.users.get_by_email(f"written-by-{job_id}@example.com") is not None


def test_a_job_commits_its_result_together_with_its_work(uow, make_job):
    job_id = make_job()
    handler = Recorder({"rows": 4})
    assert _run(job_id, uow, handler) == "succeeded"
    job = _job(uow, job_id)
    assert (job.state, job.result, job.attempts) == (JobState.SUCCEEDED, {"rows": 4}, 1)
    assert (job.progress_done, job.progress_total) == (4, 4)
    assert job.started_at <= job.finished_at
    assert _side_effect_written(uow, job_id)


def test_a_jobs_finish_time_is_when_its_work_ended_not_when_it_began(uow, make_job):
    job_id = make_job()

    def slow(job, work, progress):
        work.users.count()  # the work transaction has begun
        time.sleep(1.2)
        return {}

    _run(job_id, uow, slow)
    job = _job(uow, job_id)
    assert (job.finished_at - job.started_at).total_seconds() >= 1.2


def test_a_finished_job_delivered_again_is_not_run_again(uow, make_job):
    job_id = make_job()
    handler = Recorder()
    _run(job_id, uow, handler)
    assert _run(job_id, uow, handler) == "skipped: already finished"
    assert handler.calls == 1
    assert _job(uow, job_id).attempts == 1


def test_a_job_another_worker_holds_is_skipped(uow, make_job):
    job_id = make_job()
    handler = Recorder()
    with uow() as other_worker:
        assert other_worker.jobs.try_lock(job_id)
        try:
            assert _run(job_id, uow, handler) == "skipped: another worker is running it"
        finally:
            other_worker.jobs.unlock(job_id)
    assert handler.calls == 0
    assert _job(uow, job_id).state is JobState.QUEUED


def test_a_job_failing_on_its_input_rolls_back_its_work_and_says_why(uow, make_job):
    job_id = make_job()
    assert _run(job_id, uow, Recorder(JobFailed("Missing column", "the file has no column 'region'"))) == "failed"
    job = _job(uow, job_id)
    assert job.state is JobState.FAILED
    assert job.error == {"title": "Missing column", "detail": "the file has no column 'region'"}
    assert not _side_effect_written(uow, job_id)


def test_a_crash_rolls_back_the_work_and_leaves_the_job_to_the_retry(uow, make_job):
    job_id = make_job()
    with pytest.raises(ZeroDivisionError):
        _run(job_id, uow, Recorder(ZeroDivisionError("secret borrower data")))
    job = _job(uow, job_id)
    assert (job.state, job.attempts) == (JobState.RUNNING, 1)
    assert not _side_effect_written(uow, job_id)
    with uow() as u:
        assert not u.jobs.is_locked(job_id)  # the next delivery can take it


def test_a_crash_that_used_up_its_retries_fails_the_job_without_leaking_details(uow, make_job):
    job_id = make_job(state="running", attempts=MAX_ATTEMPTS)
    fail_unexpectedly(job_id, uow, ZeroDivisionError("secret borrower data"))
    job = _job(uow, job_id)
    assert job.state is JobState.FAILED
    assert job.error["title"] == "Internal error"
    assert "ZeroDivisionError" in job.error["detail"]
    assert "secret" not in job.error["detail"]


def test_a_cancelled_job_is_not_run_when_its_message_arrives(uow, make_job):
    job_id = make_job(state="cancelled", cancel_requested=True, finished_at=func.now())
    handler = Recorder()
    assert _run(job_id, uow, handler) == "skipped: already finished"
    assert handler.calls == 0


def test_a_job_cancelled_before_its_worker_claims_it_ends_cancelled(uow, make_job):
    job_id = make_job(cancel_requested=True)
    handler = Recorder()
    assert _run(job_id, uow, handler) == "cancelled before start"
    assert handler.calls == 0
    assert _job(uow, job_id).state is JobState.CANCELLED


def test_a_job_that_exhausted_its_attempts_is_failed_instead_of_run(uow, make_job):
    job_id = make_job(state="running", attempts=MAX_ATTEMPTS)
    handler = Recorder()
    assert _run(job_id, uow, handler) == "failed: attempts exhausted"
    assert handler.calls == 0
    job = _job(uow, job_id)
    assert job.state is JobState.FAILED
    assert job.error["title"] == "Gave up"
    assert f"{MAX_ATTEMPTS} times" in job.error["detail"]


def test_progress_is_visible_to_others_while_the_job_runs(uow, make_job):
    job_id = make_job()
    seen = []

    def handler(job, work, progress):
        progress.set_total(10)
        progress.advance(3, force=True)
        seen.append(_job(uow, job_id))  # another connection, as a polling client
        return {}

    _run(job_id, uow, handler)
    assert (seen[0].state, seen[0].progress_done, seen[0].progress_total) == (JobState.RUNNING, 3, 10)


class Queue:
    """An enqueue function that records, or fails like a broker that is down."""

    def __init__(self, broken=False):
        self.sent, self.broken = [], broken

    def __call__(self, job):
        if self.broken:
            raise ConnectionError("broker down")
        self.sent.append(job.id)


def _reconcile(uow, queue):
    with uow() as u:
        return reconcile(u, queue, stale_seconds=60, max_attempts=MAX_ATTEMPTS)


def test_reconciler_enqueues_queued_jobs_whose_message_was_lost_or_never_sent(uow, make_job):
    never_sent = make_job()
    lost = make_job(enqueued_at=LONG_AGO)
    recent = make_job(enqueued_at=func.now())
    queue = Queue()
    assert _reconcile(uow, queue) == {"requeued": 2, "failed": 0}
    assert sorted(queue.sent) == sorted([never_sent, lost])
    assert recent not in queue.sent
    assert _reconcile(uow, Queue()) == {"requeued": 0, "failed": 0}  # now marked as sent


def test_reconciler_requeues_a_running_job_whose_worker_died(uow, make_job):
    job_id = make_job(state="running", attempts=1, started_at=LONG_AGO, heartbeat_at=LONG_AGO)
    queue = Queue()
    assert _reconcile(uow, queue) == {"requeued": 1, "failed": 0}
    assert queue.sent == [job_id]
    assert (_job(uow, job_id).state, _job(uow, job_id).attempts) == (JobState.QUEUED, 1)


def test_reconciler_leaves_a_job_whose_worker_holds_its_lock_alone(uow, make_job):
    job_id = make_job(state="running", attempts=1, heartbeat_at=LONG_AGO)  # a long step, no heartbeat
    queue = Queue()
    with uow() as live_worker:
        assert live_worker.jobs.try_lock(job_id)
        try:
            assert _reconcile(uow, queue) == {"requeued": 0, "failed": 0}
        finally:
            live_worker.jobs.unlock(job_id)  # a session lock outlives the block: its connection goes back to the pool
    assert queue.sent == []
    assert _job(uow, job_id).state is JobState.RUNNING


def test_reconciler_gives_a_just_claimed_job_time_to_take_its_lock(uow, make_job):
    job_id = make_job(state="running", attempts=1, heartbeat_at=func.now())
    assert _reconcile(uow, Queue()) == {"requeued": 0, "failed": 0}
    assert _job(uow, job_id).state is JobState.RUNNING


def test_reconciler_fails_a_job_whose_worker_died_too_often(uow, make_job):
    job_id = make_job(state="running", attempts=MAX_ATTEMPTS, heartbeat_at=LONG_AGO)
    queue = Queue()
    assert _reconcile(uow, queue) == {"requeued": 0, "failed": 1}
    assert queue.sent == []
    job = _job(uow, job_id)
    assert job.state is JobState.FAILED and job.finished_at is not None
    assert job.error["title"] == "Gave up"
    assert f"lost {MAX_ATTEMPTS} times" in job.error["detail"]


def test_reconciler_keeps_jobs_queued_while_the_broker_is_down(uow, make_job):
    job_id = make_job(state="running", attempts=1, heartbeat_at=LONG_AGO)
    assert _reconcile(uow, Queue(broken=True)) == {"requeued": 0, "failed": 0}
    assert _job(uow, job_id).state is JobState.QUEUED
    queue = Queue()
    assert _reconcile(uow, queue) == {"requeued": 1, "failed": 0}  # the next round sends it
    assert queue.sent == [job_id]

"""Cancelling a job against the in-memory unit of work."""
from __future__ import annotations

import uuid

import pytest

from domain.errors import Conflict, NotFound
from domain.jobs import JobState, cancel_job
from domain.viewer import Viewer

from .fakes import FakeUnitOfWork

OWNER = Viewer(user_id=5, is_admin=False)
SOMEONE_ELSE = Viewer(user_id=6, is_admin=False)
ADMIN = Viewer(user_id=1, is_admin=True)


def test_a_queued_job_is_cancelled_at_once_and_committed():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.QUEUED, created_by=OWNER.user_id)
    cancelled = cancel_job(uow, job.id, OWNER)
    assert (cancelled.state, cancelled.cancel_requested, cancelled.finished_at) == (JobState.CANCELLED, True, uow.now)
    assert uow.jobs.get(job.id) == cancelled and uow.commits == 1


def test_a_running_job_is_asked_to_stop_and_keeps_running_until_its_next_checkpoint():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.RUNNING, created_by=OWNER.user_id, attempts=1)
    cancelled = cancel_job(uow, job.id, OWNER)
    assert (cancelled.state, cancelled.cancel_requested, cancelled.finished_at) == (JobState.RUNNING, True, None)
    assert uow.commits == 1


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
def test_a_finished_job_cannot_be_cancelled(state):
    uow = FakeUnitOfWork()
    job = uow.given_job(state, created_by=OWNER.user_id)
    with uow, pytest.raises(Conflict):
        cancel_job(uow, job.id, OWNER)
    assert uow.jobs.get(job.id) == job and uow.commits == 0


def test_another_users_job_is_not_found_for_a_non_admin():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.QUEUED, created_by=OWNER.user_id)
    with uow, pytest.raises(NotFound):
        cancel_job(uow, job.id, SOMEONE_ELSE)
    assert uow.jobs.get(job.id).state is JobState.QUEUED and uow.commits == 0


def test_an_admin_may_cancel_anyones_job():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.QUEUED, created_by=OWNER.user_id)
    assert cancel_job(uow, job.id, ADMIN).state is JobState.CANCELLED


def test_an_unknown_job_is_not_found_even_for_an_admin():
    with pytest.raises(NotFound):
        cancel_job(FakeUnitOfWork(), uuid.uuid4(), ADMIN)

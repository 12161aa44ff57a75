"""The reconciler against the in-memory unit of work: lost messages re-enqueued, lost workers retried or given up."""
from __future__ import annotations

from datetime import timedelta

from domain.job_runner import reconcile
from domain.jobs import Job, JobState

from .fakes import FakeUnitOfWork

STALE_SECONDS = 60
MAX_ATTEMPTS = 3


class Broker:
    """An enqueue that records the jobs it was handed, or fails while the broker is down."""

    def __init__(self, uow: FakeUnitOfWork, down: bool = False):
        self._uow = uow
        self.down = down
        self.sent: list[Job] = []
        self.commits_seen: list[int] = []

    def __call__(self, job: Job) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.sent.append(job)
        self.commits_seen.append(self._uow.commits)


def run(uow: FakeUnitOfWork, broker: Broker) -> dict:
    return reconcile(uow, broker, stale_seconds=STALE_SECONDS, max_attempts=MAX_ATTEMPTS)


def test_a_queued_job_never_enqueued_is_enqueued_and_marked():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.QUEUED, enqueued_at=None)
    broker = Broker(uow)
    assert run(uow, broker) == {"requeued": 1, "failed": 0}
    assert [j.id for j in broker.sent] == [job.id] and uow.jobs.enqueued_at(job.id) == uow.now


def test_a_queued_job_enqueued_long_ago_is_enqueued_again():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.QUEUED, enqueued_at=uow.now - timedelta(seconds=STALE_SECONDS + 1))
    broker = Broker(uow)
    assert run(uow, broker)["requeued"] == 1 and [j.id for j in broker.sent] == [job.id]


def test_a_recently_enqueued_job_is_left_to_the_workers():
    uow = FakeUnitOfWork()
    enqueued_at = uow.now - timedelta(seconds=STALE_SECONDS - 1)
    job = uow.given_job(JobState.QUEUED, enqueued_at=enqueued_at)
    broker = Broker(uow)
    assert run(uow, broker) == {"requeued": 0, "failed": 0}
    assert broker.sent == [] and uow.jobs.enqueued_at(job.id) == enqueued_at


def test_a_running_job_whose_lock_is_held_is_alive_and_left_alone():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.RUNNING, attempts=1, heartbeat_at=uow.now - timedelta(hours=1))
    uow.held_locks.add(job.id)
    broker = Broker(uow)
    assert run(uow, broker) == {"requeued": 0, "failed": 0}
    assert broker.sent == [] and uow.jobs.get(job.id) == job


def test_a_running_job_that_just_reported_is_looked_at_again_next_round():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.RUNNING, attempts=1, heartbeat_at=uow.now - timedelta(seconds=2))
    broker = Broker(uow)
    assert run(uow, broker) == {"requeued": 0, "failed": 0} and uow.jobs.get(job.id) == job


def test_a_running_job_whose_worker_was_lost_is_requeued_and_enqueued_after_the_commit():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.RUNNING, attempts=1, heartbeat_at=uow.now - timedelta(minutes=5))
    broker = Broker(uow)
    assert run(uow, broker) == {"requeued": 1, "failed": 0}
    assert uow.jobs.get(job.id).state is JobState.QUEUED and uow.jobs.enqueued_at(job.id) == uow.now
    assert [j.id for j in broker.sent] == [job.id] and broker.commits_seen == [1]


def test_a_job_whose_worker_was_lost_max_attempts_times_fails_and_is_not_enqueued():
    uow = FakeUnitOfWork()
    job = uow.given_job(JobState.RUNNING, attempts=MAX_ATTEMPTS, heartbeat_at=uow.now - timedelta(minutes=5))
    broker = Broker(uow)
    assert run(uow, broker) == {"requeued": 0, "failed": 1}
    failed = uow.jobs.get(job.id)
    assert failed.state is JobState.FAILED and failed.error["title"] == "Gave up" and failed.finished_at == uow.now
    assert broker.sent == [] and uow.commits == 1


def test_a_broker_failure_leaves_the_job_for_the_next_round():
    uow = FakeUnitOfWork()
    lost = uow.given_job(JobState.RUNNING, attempts=1, heartbeat_at=uow.now - timedelta(minutes=5))
    never_sent = uow.given_job(JobState.QUEUED)
    broker = Broker(uow, down=True)
    assert run(uow, broker) == {"requeued": 0, "failed": 0}
    for job in (lost, never_sent):
        assert uow.jobs.get(job.id).state is JobState.QUEUED and uow.jobs.enqueued_at(job.id) is None
    broker.down = False
    uow.advance(30)
    assert run(uow, broker) == {"requeued": 2, "failed": 0}
    assert {j.id for j in broker.sent} == {lost.id, never_sent.id}

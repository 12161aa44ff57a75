"""Jobs through the HTTP API and a real Celery worker: poll, list, cancel, lost and killed work."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from celery import Celery
from sqlalchemy import func, text

from conftest import Worker, eventually, login, wait_for_job
from dcoe.queue import CeleryJobQueue, task_routes
from domain.job_runner import reconcile, run_job
from domain.jobs import JobState, JobType
from domain.users import Role

PROBLEM = "application/problem+json"
JOB_FIELDS = {"id", "type", "state", "progress", "params", "result", "error", "created_by", "created_at",
              "started_at", "finished_at"}


def _stored(uow, job_id):
    with uow() as u:
        return u.jobs.get(job_id)


@pytest.fixture
def celery_client(settings):
    """A send-only Celery client on the test broker, routed like the web's."""
    app = Celery("test-client", broker=settings.redis_url)
    app.conf.task_routes = task_routes()
    return app


# ---- the resource, visibility, listing ----------------------------------------------------------

def test_a_job_answers_the_contracts_shape(client, admin_headers, make_job):
    job_id = make_job(JobType.ASSIGN)
    response = client.get(f"/api/jobs/{job_id}", headers=admin_headers)
    assert response.status_code == 200
    job = response.json
    assert set(job) == JOB_FIELDS
    assert (job["id"], job["type"], job["state"]) == (str(job_id), "assign", "queued")
    assert job["progress"] == {"done": 0, "total": None}
    assert (job["result"], job["error"], job["started_at"], job["finished_at"]) == (None, None, None, None)
    assert datetime.fromisoformat(job["created_at"]).utcoffset() == timedelta(0)


def test_an_agent_sees_only_its_own_jobs(client, make_user, make_job):
    admin, agent = make_user("admin"), make_user("field_agent")
    admin_job, agent_job = make_job(created_by=admin.id), make_job(created_by=agent.id)
    beat_job = make_job(JobType.ASSIGN)  # started by beat: nobody's
    agent_headers, admin_headers = login(client, agent.email), login(client, admin.email)

    assert client.get(f"/api/jobs/{agent_job}", headers=agent_headers).status_code == 200
    hidden = client.get(f"/api/jobs/{admin_job}", headers=agent_headers)
    unknown = client.get(f"/api/jobs/{uuid.uuid4()}", headers=agent_headers)
    assert (hidden.status_code, hidden.content_type) == (404, PROBLEM)
    assert hidden.json["title"] == unknown.json["title"]  # not telling it exists
    assert client.get(f"/api/jobs/{beat_job}", headers=agent_headers).status_code == 404
    assert client.post(f"/api/jobs/{admin_job}/cancel", headers=agent_headers).status_code == 404
    assert [j["id"] for j in client.get("/api/jobs", headers=agent_headers).json["items"]] == [str(agent_job)]
    assert {j["id"] for j in client.get("/api/jobs", headers=admin_headers).json["items"]} == {
        str(admin_job), str(agent_job), str(beat_job)}


def test_jobs_are_listed_newest_first_page_by_page(client, admin_headers, make_job):
    created = [make_job(created_at=func.now() - timedelta(minutes=10 - n)) for n in range(5)]
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/jobs", headers=admin_headers, query_string=query).json
        assert len(page["items"]) <= 2
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(j) for j in reversed(created)]


def test_jobs_can_be_filtered_by_type_and_state(client, admin_headers, make_job):
    assign = make_job(JobType.ASSIGN)
    failed = make_job(JobType.ANALYTICS, state="failed")
    make_job(JobType.ANALYTICS)
    by_type = client.get("/api/jobs?type=assign", headers=admin_headers).json["items"]
    by_state = client.get("/api/jobs?state=failed", headers=admin_headers).json["items"]
    assert [j["id"] for j in by_type] == [str(assign)]
    assert [j["id"] for j in by_state] == [str(failed)]


@pytest.mark.parametrize("query", ["type=nothing", "state=done", "limit=0", "limit=501", "cursor=%%%", "colour=red"])
def test_bad_list_parameters_are_400_problems(client, admin_headers, query):
    response = client.get(f"/api/jobs?{query}", headers=admin_headers)
    assert (response.status_code, response.content_type) == (400, PROBLEM)


# ---- cancel ----------------------------------------------------------------------------------------

def test_cancelling_a_queued_job_cancels_it_at_once(client, admin_headers, make_job):
    job_id = make_job()
    response = client.post(f"/api/jobs/{job_id}/cancel", headers=admin_headers)
    assert response.status_code == 202
    assert response.headers["Location"] == f"/api/jobs/{job_id}"
    assert response.json["state"] == "cancelled"
    assert response.json["finished_at"] is not None
    assert client.get(f"/api/jobs/{job_id}", headers=admin_headers).json["state"] == "cancelled"


def test_cancelling_a_running_job_stops_it_at_its_next_checkpoint(client, admin_headers, make_job, uow):
    job_id = make_job()
    answers = []

    def handler(job, work, progress):
        work.users.add(email="half-done@example.com", name="half done", password_hash="x", role=Role.ADMIN)
        answers.append(client.post(f"/api/jobs/{job_id}/cancel", headers=admin_headers))
        progress.advance(1, force=True)  # the checkpoint
        raise AssertionError("the checkpoint should have stopped the job")

    assert run_job(job_id, uow, handler, max_attempts=3) == "cancelled"
    assert (answers[0].status_code, answers[0].json["state"]) == (202, "running")
    assert _stored(uow, job_id).state is JobState.CANCELLED
    with uow() as u:
        assert u.users.get_by_email("half-done@example.com") is None  # its uncommitted work is gone


@pytest.mark.parametrize("state", ["succeeded", "failed", "cancelled"])
def test_cancelling_a_finished_job_is_a_409(client, admin_headers, make_job, state):
    job_id = make_job(state=state, finished_at=func.now())
    response = client.post(f"/api/jobs/{job_id}/cancel", headers=admin_headers)
    assert (response.status_code, response.content_type) == (409, PROBLEM)
    assert state in response.json["detail"]


# ---- lost messages and dead workers, with real workers ----------------------------------------------

def test_a_job_whose_message_was_lost_is_enqueued_by_the_reconciler_and_run(
        client, admin_headers, make_job, worker, celery_client):
    lost = make_job(enqueued_at=func.now() - timedelta(hours=1))
    never_sent = make_job()
    celery_client.send_task("jobs.reconcile", queue="default")
    for job_id in (lost, never_sent):
        job = wait_for_job(client, admin_headers, job_id, timeout=60)
        assert job["state"] == "succeeded", job
        assert job["result"]["total_cases"] == 0


def _blocked_on_a_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar())


def test_a_job_whose_worker_was_killed_mid_way_is_run_again_by_another(
        settings, engine, uow, client, admin_headers, make_job, worker, celery_client):
    queue = f"doomed-{uuid.uuid4().hex[:6]}"  # only the doomed worker listens here
    doomed = Worker(settings, queues=queue, concurrency=1, name="doomed").start()
    job_id = make_job()
    blocker = engine.connect()
    try:
        with blocker.begin():
            # the analytics job reads the cases: it is stuck mid-way, in the database, until we let go
            blocker.execute(text("LOCK TABLE cases_processed IN ACCESS EXCLUSIVE MODE"))
            celery_client.send_task("analytics.refresh", args=[str(job_id)], queue=queue)
            eventually(lambda: _stored(uow, job_id).state is JobState.RUNNING, 60, "the doomed worker's claim")
            eventually(lambda: _blocked_on_a_lock(engine), 30, "the job waiting on the cases")
            doomed.kill()
    finally:
        doomed.stop()
        blocker.close()

    def lock_released():
        with uow() as u:
            return not u.jobs.is_locked(job_id)

    eventually(lock_released, 30, "the dead worker's lock to go")

    def reconciled():
        with uow() as u:
            return reconcile(u, CeleryJobQueue(celery_client), stale_seconds=settings.job_stale_seconds,
                             max_attempts=settings.job_max_attempts)["requeued"]

    eventually(reconciled, 30, "the reconciler's requeue")
    job = wait_for_job(client, admin_headers, job_id, timeout=60)
    assert job["state"] == "succeeded", job
    assert _stored(uow, job_id).attempts == 2

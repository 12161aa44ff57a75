"""Assignment runs end to end: HTTP → job → a real Celery worker → PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from celery import Celery
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from conftest import ROOT, settings_env, wait_for_job
from domain.assignment import PRIORITIES_FIRST_TO_LAST, STATUS_ON_ASSIGNMENT, plan_assignment, run_assignment
from domain.jobs import JobType, new_job
from domain.routing import route
from domain.users import Team

TEAM_ROLES = {"call_center": "call_center_agent", "field": "field_agent", "legal": "legal_team"}


def insert_cases(engine, cases: list[dict]) -> list[int]:
    """COPY cases in (dpd, priority, due, status, assigned_to, team default to the routed team); their ids."""
    columns = ("case_id", "bank_code", "borrower_name", "loan_amount", "due_amount", "days_past_due", "priority",
               "region", "team", "status", "assigned_to")
    with engine.begin() as conn:
        first = conn.execute(text("SELECT coalesce(max(id), 0) FROM cases_processed")).scalar_one()
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY cases_processed ({', '.join(columns)}) FROM STDIN") as copy:
                for n, c in enumerate(cases, start=first + 1):
                    dpd = c.get("dpd", 10)
                    copy.write_row((f"T-{n:07d}", "HDFC", "Borrower", "1000.00", c.get("due", "100.00"), dpd,
                                    c.get("priority", "Low"), "North", c.get("team", route(dpd).value),
                                    c.get("status", "Pending"), c.get("assigned_to")))
        return list(conn.execute(text("SELECT id FROM cases_processed WHERE id > :first ORDER BY id"),
                                 {"first": first}).scalars())


def agents_of(make_user, **teams: int) -> dict[str, list[int]]:
    return {team: [make_user(TEAM_ROLES[team]).id for _ in range(n)] for team, n in teams.items()}


def cases_by_id(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM cases_processed ORDER BY id")).mappings()
        return {r["id"]: dict(r) for r in rows}


def run(client, headers, *, dry_run=False, timeout=120) -> dict:
    response = client.post("/api/cases/assign", json={"dry_run": dry_run}, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    job = wait_for_job(client, headers, response.json["id"], timeout=timeout)
    assert job["state"] == "succeeded", job
    return job


def test_a_run_assigns_every_open_unassigned_case_to_its_team(client, worker, engine, make_user, admin_headers):
    agents = agents_of(make_user, call_center=2, field=2, legal=1)
    team_of_agent = {a: team for team, ids in agents.items() for a in ids}
    busy = agents["legal"][0]
    ids = insert_cases(engine, [
        {"dpd": 0}, {"dpd": 30}, {"dpd": 31}, {"dpd": 90}, {"dpd": 91}, {"dpd": 400, "priority": "Critical"},
        {"dpd": 15, "status": "Escalated"}, {"dpd": 60, "status": "In Progress"},
        {"dpd": 5, "status": "Resolved"}, {"dpd": 45, "status": "In Progress", "assigned_to": busy},
        {"dpd": 70, "team": "call_center"},  # stored under an old band: routed by its DPD now
    ])
    admin_id = client.get("/api/auth/me", headers=admin_headers).json["id"]
    before = cases_by_id(engine)

    job = run(client, admin_headers)

    after = cases_by_id(engine)
    resolved, already_assigned = ids[8], ids[9]
    assert after[resolved] == before[resolved] and after[already_assigned] == before[already_assigned]
    fresh = [i for i in ids if i not in (resolved, already_assigned)]
    for case_pk in fresh:
        case = after[case_pk]
        assert team_of_agent[case["assigned_to"]] == route(case["days_past_due"]).value == case["team"]
        assert case["version"] == before[case_pk]["version"] + 1
        expected = {"Pending": "In Progress"}.get(before[case_pk]["status"], before[case_pk]["status"])
        assert case["status"] == expected
    assert job["result"]["assigned"] == len(fresh) == 9
    assert job["result"]["by_team"] == {"call_center": 3, "field": 4, "legal": 2}
    assert sum(job["result"]["by_agent"].values()) == 9 and job["result"]["left_unassigned"] == {}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT case_pk, assigned_to, assigned_by, job_id::text FROM case_assignments")).all()
    assert sorted(r.case_pk for r in rows) == fresh
    assert all(r.assigned_by == admin_id and r.job_id == job["id"] for r in rows)
    assert all(r.assigned_to == after[r.case_pk]["assigned_to"] for r in rows)
    for case_pk in fresh:  # the assignment, then the status move it made (Pending cases only)
        history = client.get(f"/api/cases/{case_pk}/history", headers=admin_headers).json
        expected = [("assignment", None, after[case_pk]["assigned_to"])]
        if before[case_pk]["status"] == "Pending":
            expected.append(("status", "Pending", "In Progress"))
        assert [(h["kind"], h["from"], h["to"]) for h in history] == expected
        assert {h["by"] for h in history} == {admin_id} and len({h["at"] for h in history}) == 1


def test_one_case_per_run_over_seven_runs_goes_three_two_two(client, worker, engine, make_user, admin_headers):
    agents = agents_of(make_user, call_center=3)["call_center"]
    given = []
    for _ in range(7):
        (case_pk,) = insert_cases(engine, [{"dpd": 3}])
        run(client, admin_headers)
        given.append(cases_by_id(engine)[case_pk]["assigned_to"])
    assert given == [agents[k % 3] for k in range(7)]
    assert Counter(given) == {agents[0]: 3, agents[1]: 2, agents[2]: 2}


def test_the_rotation_skips_a_deactivated_agent_and_keeps_going(client, worker, engine, make_user, admin_headers):
    a, b, c = agents_of(make_user, field=3)["field"]
    insert_cases(engine, [{"dpd": 50}])
    run(client, admin_headers)  # a
    insert_cases(engine, [{"dpd": 50}])
    run(client, admin_headers)  # b
    assert client.patch(f"/api/users/{b}", json={"active": False}, headers=admin_headers).status_code == 200
    ids = insert_cases(engine, [{"dpd": 50}, {"dpd": 50}])
    job = run(client, admin_headers)
    after = cases_by_id(engine)
    # b's case came back and is dealt with the new ones, resuming after b: c, a, c
    assert job["result"]["by_agent"] == {str(a): 1, str(c): 2}
    assert {after[i]["assigned_to"] for i in ids} <= {a, c}


def test_a_team_without_active_agents_is_left_unassigned_and_the_rest_goes_on(client, worker, engine, make_user,
                                                                               admin_headers):
    agents_of(make_user, call_center=1)
    make_user("legal_team")  # deactivated below: an inactive agent is no agent
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET active = false WHERE role = 'legal_team'"))
    ids = insert_cases(engine, [{"dpd": 1}, {"dpd": 40}, {"dpd": 41}, {"dpd": 100}])
    job = run(client, admin_headers)
    assert job["result"]["assigned"] == 1
    assert job["result"]["left_unassigned"] == {"field": 2, "legal": 1}
    after = cases_by_id(engine)
    assert [after[i]["assigned_to"] is None for i in ids] == [False, True, True, True]
    assert after[ids[1]]["status"] == "Pending"


def test_dry_run_reports_the_plan_and_writes_nothing(client, worker, engine, make_user, admin_headers):
    agents = agents_of(make_user, call_center=2, field=1)
    insert_cases(engine, [{"dpd": 1}, {"dpd": 2}, {"dpd": 3}, {"dpd": 60}, {"dpd": 200}])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO team_rotation (team, last_agent_id) VALUES ('call_center', :a)"),
                     {"a": agents["call_center"][0]})

    def state():
        with engine.connect() as conn:
            return (conn.execute(text("SELECT team::text, last_agent_id, updated_at FROM team_rotation")).all(),
                    conn.execute(text("SELECT count(*) FROM case_assignments")).scalar_one(),
                    conn.execute(text("SELECT count(*) FROM case_status_history")).scalar_one(),
                    cases_by_id(engine))

    before = state()
    job = run(client, admin_headers, dry_run=True)
    assert state() == before
    cc1, cc2 = agents["call_center"]
    assert job["result"] == {"assigned": 4, "by_team": {"call_center": 3, "field": 1},
                             "by_agent": {str(cc1): 1, str(cc2): 2, str(agents["field"][0]): 1},
                             "left_unassigned": {"legal": 1}, "dry_run": True}
    real = run(client, admin_headers)
    assert {k: v for k, v in real["result"].items() if k != "dry_run"} == \
        {k: v for k, v in job["result"].items() if k != "dry_run"}


def test_five_concurrent_runs_assign_each_case_exactly_once(client, worker, engine, make_user, admin_headers):
    agents_of(make_user, call_center=3, field=2, legal=2)
    ids = insert_cases(engine, [{"dpd": k % 400, "priority": ("Low", "High", "Critical")[k % 3], "due": f"{k % 977}.50"}
                                for k in range(10_000)])
    job_ids = []
    for _ in range(5):
        response = client.post("/api/cases/assign", json={}, headers=admin_headers)
        assert response.status_code == 202
        job_ids.append(response.json["id"])
    jobs = [wait_for_job(client, admin_headers, job_id, timeout=180) for job_id in job_ids]
    assert [j["state"] for j in jobs] == ["succeeded"] * 5
    assert sum(j["result"]["assigned"] for j in jobs) == len(ids)
    with engine.connect() as conn:
        per_case = conn.execute(text("SELECT case_pk, count(*) FROM case_assignments GROUP BY case_pk")).all()
        unassigned = conn.execute(text("SELECT count(*) FROM cases_processed WHERE assigned_to IS NULL")).scalar_one()
        mismatched = conn.execute(text(
            "SELECT count(*) FROM cases_processed c JOIN case_assignments a ON a.case_pk = c.id "
            "WHERE a.released_at IS NULL AND a.assigned_to <> c.assigned_to")).scalar_one()
    assert len(per_case) == len(ids) and all(n == 1 for _, n in per_case)
    assert unassigned == 0 and mismatched == 0


def test_two_schedule_calls_for_the_same_slot_make_one_job(client, worker, engine, settings):
    sender = Celery(broker=settings.redis_url)
    slots = {f"beat-assign-{int(time.time() // 3600)}"}
    for _ in range(2):
        sender.send_task("assignment.schedule", args=[3600], queue="default")
    wait_until_beat_jobs_finish(engine)
    time.sleep(1)  # room for a second, wrong, job to show up
    slots.add(f"beat-assign-{int(time.time() // 3600)}")
    jobs = beat_jobs(engine)
    assert len(jobs) == 1 and jobs[0][1] == "succeeded" and jobs[0][2] in slots


def test_a_beat_started_run_appears_as_a_job(client, worker, engine, settings, make_user, tmp_path):
    agent = make_user("legal_team").id
    (case_pk,) = insert_cases(engine, [{"dpd": 300}])
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "--schedule", str(tmp_path / "beat"),
         "--loglevel", "INFO"],
        cwd=ROOT, env=settings_env(settings, ASSIGN_INTERVAL_SECONDS=1), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(s == "succeeded" for _, s, _ in beat_jobs(engine)):
            time.sleep(0.2)
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(30)
    wait_until_beat_jobs_finish(engine)  # the last slots' runs may still be going
    jobs = beat_jobs(engine)
    assert any(state == "succeeded" for _, state, _ in jobs), jobs
    assert len({key for _, _, key in jobs}) == len(jobs)
    with engine.connect() as conn:
        assigned_to, assigned_by = conn.execute(text(
            "SELECT assigned_to, assigned_by FROM case_assignments WHERE case_pk = :c"), {"c": case_pk}).one()
    assert (assigned_to, assigned_by) == (agent, None)


def beat_jobs(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, state::text, idempotency_key FROM jobs "
                                 "WHERE type = 'assign' AND created_by IS NULL ORDER BY created_at")).all()


def wait_until_beat_jobs_finish(engine, timeout=60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = beat_jobs(engine)
        if jobs and all(state in ("succeeded", "failed", "cancelled") for _, state, _ in jobs):
            return
        time.sleep(0.2)
    raise AssertionError(f"beat jobs not finished: {beat_jobs(engine)}")


def test_a_case_changed_after_planning_is_left_for_the_next_run(engine, uow, make_user):
    agent = make_user("call_center_agent").id
    changed, kept = insert_cases(engine, [{"dpd": 1}, {"dpd": 2}])
    with uow() as work:
        store = work.assignment
        with store.candidates(100, PRIORITIES_FIRST_TO_LAST) as (_, batches):
            candidates = [case for batch in batches for case in batch]
            plan = plan_assignment(candidates, store.active_agents(), store.rotation(), store.bands())
            store.stage(store.plan_data(plan.assignments, STATUS_ON_ASSIGNMENT))
        with engine.begin() as conn:  # e.g. an admin escalates it meanwhile
            conn.execute(text("UPDATE cases_processed SET status = 'Escalated', version = version + 1 WHERE id = :c"),
                         {"c": changed})
        applied = store.apply_staged(by=None, job_id=uuid.uuid4())
        work.commit()
    assert applied == Counter({(Team.CALL_CENTER, agent): 1})
    after = cases_by_id(engine)
    assert (after[changed]["assigned_to"], after[changed]["status"]) == (None, "Escalated")
    assert (after[kept]["assigned_to"], after[kept]["status"]) == (agent, "In Progress")
    with engine.connect() as conn:
        touched = conn.execute(text(
            "SELECT case_pk FROM case_assignments UNION SELECT case_pk FROM case_status_history"))
        assert touched.scalars().all() == [kept]


def test_releasing_an_agent_waits_for_a_running_assignment(engine, uow, make_user):
    agent = make_user("field_agent").id
    with uow() as run, uow() as release:
        run.assignment.serialize_runs()
        release.connection.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            release.assignment.release_agent_cases(agent, by=None, reason="agent deactivated")
        release.rollback()
        run.rollback()  # the run ends: the release goes through
        assert release.assignment.release_agent_cases(agent, by=None, reason="agent deactivated") == 0


class _StopAfter:
    """A job's progress that cancels the run at its n-th report (as a cancel request would)."""

    def __init__(self, reports: int):
        self.reports, self.seen = reports, []

    def set_total(self, total):
        self.total = total

    def advance(self, done, *, force=False):
        self.seen.append(done)
        if len(self.seen) == self.reports:
            raise RuntimeError("cancelled")


def test_a_run_in_many_batches_deals_across_them_and_a_stopped_one_leaves_nothing(engine, uow, make_user,
                                                                                 monkeypatch):
    import domain.assignment

    monkeypatch.setattr(domain.assignment, "_BATCH", 3)  # several batches per priority
    monkeypatch.setattr(domain.assignment, "_SWEEP_MIN", 6)  # written every two batches
    monkeypatch.setattr(domain.assignment, "_SWEEP_MAX", 6)
    agents = agents_of(make_user, call_center=3)["call_center"]
    insert_cases(engine, [{"dpd": 1, "priority": p, "due": f"{d}.00"}
                          for p in ("Low", "Critical") for d in range(1, 8)])
    job = new_job(JobType.ASSIGN, {"dry_run": False}, None)
    progress = _StopAfter(reports=3)  # the checkpoint before writing, a batch staged, two batches written
    with uow() as work, pytest.raises(RuntimeError, match="cancelled"):
        run_assignment(job, work, progress)
    assert progress.total == 14 and progress.seen == [0, 0, 6]
    assert all(case["assigned_to"] is None for case in cases_by_id(engine).values())  # rolled back
    with engine.connect() as conn:  # the reader's connection came back to the pool with no cursor open
        assert conn.execute(text("SELECT count(*) FROM pg_cursors")).scalar_one() == 0

    with uow() as work:
        outcome = run_assignment(job, work, _StopAfter(reports=0))
        work.commit()
    assert outcome["assigned"] == 14
    after = sorted(cases_by_id(engine).values(), key=lambda c: (c["priority"] != "Critical", -c["due_amount"], c["id"]))
    assert [c["assigned_to"] for c in after] == [agents[k % 3] for k in range(14)]  # one rotation through every batch

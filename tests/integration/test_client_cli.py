"""The client CLI (`dcoe upload|assign|jobs|summary|login`) as a user runs it: the installed
`dcoe` command in its own process, against gunicorn and a real Celery worker."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from live import gunicorn

DCOE = str(Path(sys.executable).with_name("dcoe"))
FULL_BAR = "[" + "#" * 30 + "]"


@pytest.fixture(scope="module")
def server(settings, worker):
    with gunicorn(settings, LOGIN_RATE_LIMIT="1000 per minute") as base:
        yield base


@pytest.fixture
def dcoe(server, make_user, tmp_path):
    """Run `dcoe ARGS...` as a new admin (credentials in the environment, tokens cached under tmp_path)."""
    admin = make_user("admin")
    env = {**os.environ, "DCOE_URL": server, "DCOE_EMAIL": admin.email, "DCOE_PASSWORD": "password123",
           "DCOE_TOKEN_CACHE": str(tmp_path / "cache" / "tokens.json")}

    def run(*args: str, password: bool = True) -> subprocess.CompletedProcess:
        run_env = env if password else {k: v for k, v in env.items() if k != "DCOE_PASSWORD"}
        return subprocess.run([DCOE, *args], env=run_env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)

    run.cache = Path(env["DCOE_TOKEN_CACHE"])
    return run


@pytest.fixture
def cases_file(tmp_path, gen_cases):
    path = tmp_path / "cases.csv"
    path.write_bytes(gen_cases(3000))
    return path


def test_upload_with_wait_prints_progress_and_the_result(dcoe, cases_file):
    done = dcoe("upload", str(cases_file), "--wait")

    assert done.returncode == 0, done.stderr
    megabytes = f"{cases_file.stat().st_size / 1_000_000:,.1f}"
    first, *_, last = done.stderr.splitlines()[1:]
    assert first.endswith(f"0.0/{megabytes} MB   0%")  # the file's size is the total from the first poll on
    assert last == f"succeeded {FULL_BAR} {megabytes}/{megabytes} MB 100%"
    result = json.loads(done.stdout)
    assert (result["rows_total"], result["rows_inserted"], result["rows_rejected"]) == (3000, 3000, 0)


def test_a_failed_job_exits_non_zero_and_prints_its_error(dcoe, tmp_path):
    no_region = tmp_path / "no-region.csv"
    no_region.write_text("case_id,bank_code,borrower_name,loan_amount,due_amount,days_past_due,priority\n"
                         "C-1,HDFC,Asha Rao,1000.00,100.00,12,High\n")

    done = dcoe("upload", str(no_region), "--wait")

    assert done.returncode == 1
    assert "failed: Missing columns" in done.stderr
    assert "region" in done.stderr
    assert done.stdout == ""


def test_without_wait_upload_prints_the_queued_job_and_jobs_finds_it(dcoe, cases_file):
    job = json.loads(dcoe("upload", str(cases_file)).stdout)

    assert job["type"] == "ingest" and job["state"] in ("queued", "running", "succeeded")
    assert json.loads(dcoe("jobs", job["id"]).stdout)["id"] == job["id"]
    listing = dcoe("jobs", "--type", "ingest")
    assert listing.returncode == 0 and job["id"] in listing.stdout


def test_the_session_is_cached_in_a_private_file_and_reused_without_the_password(dcoe):
    assert dcoe("login").returncode == 0

    assert stat.S_IMODE(dcoe.cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(dcoe.cache.parent.stat().st_mode) == 0o700
    listing = dcoe("jobs", password=False)
    assert listing.returncode == 0, listing.stderr


def test_logout_ends_the_session_on_the_server_and_forgets_it_here(dcoe, server):
    dcoe("login")
    token = json.loads(dcoe.cache.read_text())[server]["access_token"]

    assert dcoe("logout").returncode == 0

    assert server not in json.loads(dcoe.cache.read_text())
    assert requests.get(f"{server}/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert dcoe("jobs", password=False).returncode == 1


def test_a_refused_access_token_is_renewed_with_the_refresh_token(dcoe, server):
    dcoe("login")
    entries = json.loads(dcoe.cache.read_text())
    entries[server]["access_token"] = "not-a-token"
    dcoe.cache.write_text(json.dumps(entries))

    listing = dcoe("jobs", password=False)

    assert listing.returncode == 0, listing.stderr
    assert json.loads(dcoe.cache.read_text())[server]["access_token"] != "not-a-token"


def test_a_cache_others_can_read_is_refused(dcoe):
    dcoe("login")
    dcoe.cache.chmod(0o644)

    listing = dcoe("jobs", password=False)

    assert listing.returncode == 1
    assert "readable or writable by others" in listing.stderr


def test_a_wrong_password_is_a_clear_error_not_a_traceback(dcoe, server):
    done = subprocess.run([DCOE, "login", "--url", server, "--email", "nobody@example.com", "--password", "wrong"],
                          env={**os.environ, "DCOE_TOKEN_CACHE": str(dcoe.cache)}, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)

    assert done.returncode == 1
    assert "401 Unauthorized" in done.stderr
    assert "Traceback" not in done.stderr


def test_assign_dry_run_with_wait_prints_the_plan_and_changes_nothing(dcoe, cases_file, make_user):
    make_user("call_center_agent"), make_user("field_agent"), make_user("legal_team")
    assert dcoe("upload", str(cases_file), "--wait").returncode == 0

    done = dcoe("assign", "--dry-run", "--wait")

    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["dry_run"] is True and plan["assigned"] == 3000
    real = json.loads(dcoe("assign", "--wait").stdout)
    assert real["assigned"] == 3000  # the dry run had left every case unassigned


def test_summary_waits_for_the_first_snapshot(dcoe, cases_file):
    assert dcoe("upload", str(cases_file), "--wait").returncode == 0

    done = dcoe("summary")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_cases"] == 3000

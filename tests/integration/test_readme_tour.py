"""The README's tours (curl, then the client CLI) run as written against a live server."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, settings_env
from live import gunicorn

README = (ROOT / "README.md").read_text()


def block_after(heading: str, language: str) -> str:
    """The first ```language block of the README's section `heading`."""
    section = README.split(heading, 1)[1]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def demo_users(uow):
    from domain.users import seed_demo_users

    with uow() as u:
        assert seed_demo_users(u), "the tour logs in as the demo admin"


def run(script: str, base: str, settings, cwd: Path) -> str:
    script = script.replace("http://localhost:5000", base)
    env = settings_env(settings, DCOE_PASSWORD="password123", DCOE_TOKEN_CACHE=str(cwd / "tokens"),
                       PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, (f"exit {done.returncode}\nstdout:\n{done.stdout[-3000:]}\n"
                                  f"stderr:\n{done.stderr[-3000:]}")
    return done.stdout


def test_the_curl_tour_and_the_cli_tour_work_as_written(settings, worker, demo_users, tmp_path):
    (tmp_path / "bench").symlink_to(ROOT / "bench")  # the tour runs from the repository's folder
    with gunicorn(settings) as base:
        out = run(block_after("## A short tour with curl", "bash"), base, settings, tmp_path)
        assert '"rows_inserted":10000' in out.replace(" ", "")
        assert '"status":"Resolved"' in out.replace(" ", "")  # the PATCH answered the resolved case
        assert '"kind":"status"' in out.replace(" ", "")  # and its history lists the change
        assert '"status":"kept"' in out.replace(" ", "")  # the payment kept the promise
        assert '"reference":"TX-0001"' in out.replace(" ", "")
        assert '"outcome":"voicemail"' in out.replace(" ", "")  # the reported call, recorded
        assert '"on_hold":true' in out.replace(" ", "")  # the disputed case, listed on hold
        cli = run(block_after("## The client CLI", "sh"), base, settings, tmp_path)
    assert '"rows_updated": 10000' in cli  # the same file again: every row a refresh
    assert '"total_cases": 10000' in cli

"""Flower shows every task and can revoke them: it is never served without authentication —
not by `dcoe flower` / `dcoe standalone`, not in docker-compose."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import replace

import pytest
import requests
import yaml

from conftest import ROOT, settings_env
from dcoe.cli import _process_commands


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_flower_command_carries_basic_auth_from_the_settings(settings):
    command = _process_commands(replace(settings, flower_user="ops", flower_password="s3cret-flower"))["flower"]
    assert "--basic_auth=ops:s3cret-flower" in command
    assert not any(arg.startswith(("--auth=", "--unix_socket")) for arg in command)  # no other way in


def test_docker_compose_runs_flower_behind_a_required_password():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    flower = compose["services"]["flower"]
    assert flower["command"] == ["dcoe", "flower"]  # the command whose arguments are checked above
    password = flower["environment"]["FLOWER_PASSWORD"]
    assert password.startswith("${FLOWER_PASSWORD:?"), "compose must refuse to start without a password"
    assert "FLOWER_USER" in flower["environment"]
    others = [name for name, service in compose["services"].items()
              if name != "flower" and "flower" in " ".join(map(str, service.get("command") or []))]
    assert others == []  # no second, unprotected Flower


@pytest.mark.slow
def test_a_running_flower_answers_401_without_the_password(settings):
    port = _free_port()
    command = _process_commands(replace(settings, flower_port=port, flower_user="ops",
                                        flower_password="s3cret-flower"))["flower"]
    proc = subprocess.Popen(command, cwd=ROOT, env=settings_env(settings), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"flower exited with {proc.returncode}"
            try:
                anonymous = requests.get(f"{base}/api/workers", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "flower did not start"
                time.sleep(0.3)
        wrong = requests.get(f"{base}/api/workers", auth=("ops", "guess"), timeout=5)
        right = requests.get(f"{base}/api/workers", auth=("ops", "s3cret-flower"), timeout=10)
        page = requests.get(base, timeout=5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert (anonymous.status_code, wrong.status_code, page.status_code) == (401, 401, 401)
    assert right.status_code == 200

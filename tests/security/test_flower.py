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
from dcoe.cli import _process_commands, _process_env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_flower_gets_basic_auth_from_the_settings_and_never_on_its_command_line(settings):
    secured = replace(settings, flower_user="ops", flower_password="s3cret-flower")
    command = _process_commands(secured)["flower"]
    assert _process_env("flower", secured)["FLOWER_BASIC_AUTH"] == "ops:s3cret-flower"
    assert not any("s3cret-flower" in arg for arg in command)  # `ps` would show it to everyone
    assert not any(arg.startswith(("--auth=", "--unix_socket")) for arg in command)  # no other way in
    assert "FLOWER_BASIC_AUTH" not in _process_env("web", secured)


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
    secured = replace(settings, flower_port=port, flower_user="ops", flower_password="s3cret-flower")
    command = _process_commands(secured)["flower"]
    env = settings_env(settings, FLOWER_BASIC_AUTH=_process_env("flower", secured)["FLOWER_BASIC_AUTH"])
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
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

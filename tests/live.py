"""The API served for real: gunicorn on a free loopback port, for tests that need a live server
(a CLI in another process, a browser)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import requests

from conftest import ROOT, settings_env


@contextmanager
def gunicorn(settings, workers: int = 2, threads: int = 1, **env):
    """Serve the API of `settings` until the block ends; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--threads", str(threads), "web:create_app()"]
    log_path = ROOT / "var" / f"test-gunicorn-{os.getpid()}.log"
    log = open(log_path, "ab") if log_path.parent.is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env=settings_env(settings, **env), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(base):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start (exit code {proc.poll()})")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        if log is not subprocess.DEVNULL:
            log.close()


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/health", timeout=2).status_code == 200
    except requests.RequestException:  # still booting
        return False

"""`dcoe`: run the system (all of it, or one process), migrate, manage users."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from client.cli import register
from dcoe import servers
from dcoe.config import Settings


def _settings():
    return servers.settings()


def _uow():
    from store.engine import get_engine
    from store.uow import UnitOfWork

    return UnitOfWork(get_engine(_settings().database_url))


@click.group()
def main() -> None:
    """Debt collection orchestration engine."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION (default: head)."""
    from store.migrate import upgrade

    upgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}")


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "call_center_agent", "field_agent", "legal_team"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="DCOE_NEW_USER_PASSWORD")
def create_user(email: str, name: str, role: str, password: str) -> None:
    """Create a user (the password is prompted for, or read from DCOE_NEW_USER_PASSWORD)."""
    from domain import users

    with _uow() as uow:
        user = users.create_user(uow, email=email, name=name, password=password, role=users.Role(role))
    click.echo(f"created user {user.id} <{user.email}> ({user.role.value})")


@main.command("seed-demo")
def seed_demo() -> None:
    """Create the demo users if the database has no user yet."""
    _print_demo(_seed())


def _seed():
    from domain import users

    with _uow() as uow:
        return users.seed_demo_users(uow)


def _print_demo(created) -> None:
    from domain.users import DEMO_PASSWORD

    if not created:
        click.echo("users already exist; no demo users created")
        return
    click.echo(f"demo users (password {DEMO_PASSWORD!r}):")
    for email, _name, role in created:
        click.echo(f"  {email:<28} {role.value}")


def _process_commands(settings) -> dict[str, list[str]]:
    """The system's processes, each as a command line."""
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "worker.celery_app"]
    home = settings.home
    return {
        # threads: a slow client streaming a large upload holds one thread, not a whole worker,
        # and the worker keeps answering its heartbeat (sync workers are killed after 30 s)
        "web": [python, "-m", "gunicorn", "--bind", f"0.0.0.0:{settings.port}",
                "--workers", str(settings.web_workers), "--worker-class", "gthread", "--threads", "4",
                "--timeout", "120", "web:create_app()"],  # request logs come from the app (web/request_logs.py)
        # two workers: a long ingest never holds up assignment and analytics
        "worker-ingest": celery + ["worker", "-Q", "ingest", "-c", "1", "-n", "ingest@%h", "--loglevel", "INFO"],
        "worker-default": celery + ["worker", "-Q", "default", "-c", "2", "-n", "default@%h", "--loglevel", "INFO"],
        "beat": celery + ["beat", "--schedule", str(home / "celerybeat-schedule"), "--loglevel", "INFO"],
        "flower": celery + ["flower", f"--port={settings.flower_port}"],  # auth: see _process_env
    }


def _process_env(name: str, settings) -> dict[str, str]:
    """The environment of one of the system's processes.

    Flower's credentials travel in its environment (FLOWER_BASIC_AUTH, which Flower reads), not
    on its command line, where every user of the machine could read them with `ps`.
    """
    env = os.environ.copy()
    if name == "flower":
        env["FLOWER_BASIC_AUTH"] = f"{settings.flower_user}:{settings.flower_password}"
    return env


@main.command()
@click.option("--no-seed", is_flag=True, help="Do not create the demo users.")
def standalone(no_seed: bool) -> None:
    """Run everything: migrations, demo users, API, workers, beat and Flower; Ctrl-C stops all."""
    embedded = Settings.from_env().embedded  # asked before _settings() fills in the embedded URLs
    settings = _settings()
    from store.migrate import upgrade

    upgrade(settings.database_url)
    if not no_seed:
        _print_demo(_seed())
    procs = {name: subprocess.Popen(cmd, env=_process_env(name, settings))
             for name, cmd in _process_commands(settings).items()}
    click.echo(f"API      http://localhost:{settings.port}/api   (docs: /api-docs)")
    click.echo(f"Flower   http://localhost:{settings.flower_port}   (user {settings.flower_user})")
    click.echo(f"data     {settings.home if embedded else 'external servers'}")
    _supervise(procs)


def _supervise(procs: dict[str, subprocess.Popen]) -> None:
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        dead = [name for name, p in procs.items() if p.poll() is not None]
        if dead:
            click.echo(f"{', '.join(dead)} exited; stopping the system", err=True)
            break
        time.sleep(0.5)
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for p in procs.values():
        try:
            p.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
    click.echo("stopped")


def _exec(name: str) -> None:
    settings = _settings()
    cmd = _process_commands(settings)[name]
    os.execve(cmd[0], cmd, _process_env(name, settings))


@main.command()
def web() -> None:
    """Run the API under gunicorn (PORT, WEB_CONCURRENCY)."""
    _exec("web")


@main.command()
@click.option("--queues", default="default,ingest", show_default=True)
@click.option("--concurrency", "-c", default=2, show_default=True)
def worker(queues: str, concurrency: int) -> None:
    """Run a Celery worker on QUEUES (comma-separated: default, ingest)."""
    settings = _settings()
    node = queues.replace(",", "-") + "@%h"  # workers of different queues may share a host
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
                              "-Q", queues, "-c", str(concurrency), "-n", node, "--loglevel", settings.log_level])


@main.command()
def beat() -> None:
    """Run Celery beat (periodic assignment, analytics, job reconciliation)."""
    _exec("beat")


@main.command()
def flower() -> None:
    """Run Flower behind basic auth (FLOWER_USER / FLOWER_PASSWORD)."""
    _exec("flower")


register(main)  # the client commands (dcoe login, upload, ...)

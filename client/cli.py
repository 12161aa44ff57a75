"""`dcoe login|logout|upload|assign|jobs|summary`: the CLI of a client talking to a running server.

Results are printed to stdout as JSON; progress and messages go to stderr, so a script can pipe
stdout into jq. `--wait` exits 1 when the job failed or was cancelled, with the job's error.
"""
from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path

import click

from client.api import DEFAULT_URL, Client, ClientError

UNITS = {"ingest": "bytes", "assign": "cases"}  # an ingest job counts the bytes of its file read


def connection(command):
    """--url, --email and --password (or DCOE_URL, DCOE_EMAIL, DCOE_PASSWORD), given as `client`."""

    @click.option("--url", envvar="DCOE_URL", default=DEFAULT_URL, show_default=True, help="The API's base URL.")
    @click.option("--email", envvar="DCOE_EMAIL", help="Log in as this user (default: the cached session's).")
    @click.option("--password", envvar="DCOE_PASSWORD",
                  help="Needed only to log in; asked for on a terminal. Prefer DCOE_PASSWORD to the option.")
    @functools.wraps(command)
    def wrapper(url: str, email: str | None, password: str | None, **kwargs):
        client = Client(url, email=email, password=password or _ask_password)
        try:
            return command(client, **kwargs)
        except ClientError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _ask_password() -> str | None:
    if not sys.stdin.isatty():
        return None
    return click.prompt("Password", hide_input=True, err=True)


@click.command()
@connection
def login(client: Client) -> None:
    """Log in and cache the session's tokens (0600 file) for the other commands."""
    user = client.login()
    click.echo(f"logged in to {client.url} as {user['email']} ({user['role']})", err=True)


@click.command()
@connection
def logout(client: Client) -> None:
    """End the cached session: its tokens stop working on the server too."""
    client.logout()
    click.echo(f"logged out of {client.url}", err=True)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar and print its result.")
@connection
def upload(client: Client, file: Path, wait: bool) -> None:
    """Upload a case file (.csv, .json, .ndjson) for ingestion."""
    _started(client, client.upload(file), wait)


@click.command()
@click.option("--dry-run", is_flag=True, help="Compute and report the plan; change nothing.")
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar and print its result.")
@connection
def assign(client: Client, dry_run: bool, wait: bool) -> None:
    """Assign every open, unassigned case to an agent of its team, round-robin."""
    _started(client, client.assign(dry_run), wait)


@click.command()
@click.argument("job_id", required=False)
@click.option("--type", "job_type", type=click.Choice(["ingest", "assign", "analytics"]), help="Only this type.")
@click.option("--state", type=click.Choice(["queued", "running", "succeeded", "failed", "cancelled"]),
              help="Only this state.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@connection
def jobs(client: Client, job_id: str | None, job_type: str | None, state: str | None, limit: int) -> None:
    """The job JOB_ID as JSON, or the newest jobs as a table."""
    if job_id:
        _print_json(client.job(job_id))
        return
    rows = client.jobs(job_type=job_type, state=state, limit=limit)
    click.echo(f"{'id':<36}  {'type':<9}  {'state':<9}  {'progress':>21}  created")
    for job in rows:
        click.echo(f"{job['id']:<36}  {job['type']:<9}  {job['state']:<9}  {_count(job['progress']):>21}  "
                   f"{job['created_at']}")


@click.command()
@connection
def summary(client: Client) -> None:
    """The latest collection summary (waits for the first one to be computed)."""
    found, job = client.summary()
    if found is None:
        click.echo("no summary yet; waiting for the first one", err=True)
        found = _finish(client, job)
    _print_json(found)


def _started(client: Client, job: dict, wait: bool) -> None:
    if not wait:
        _print_json(job)
        return
    _print_json(_finish(client, job))


def _finish(client: Client, job: dict) -> dict:
    """Follow the job to its end; its result, or exit 1 with its error."""
    click.echo(f"job {job['id']} ({job['type']})", err=True)
    line = ProgressLine(UNITS.get(job["type"], "steps"))
    job = client.wait(job, on_progress=line)
    line.close()
    if job["state"] == "succeeded":
        return job["result"]
    error = job.get("error") or {}
    reason = f"{error.get('title', '')}: {error.get('detail', '')}" if error else "no error recorded"
    raise click.ClickException(f"job {job['id']} {job['state']}: {reason}")


class ProgressLine:
    """A job's progress as a bar on one line of stderr; on a pipe, one line per change."""

    def __init__(self, unit: str, width: int = 30, stream=None, clock=time.monotonic):
        self.unit, self.width = unit, width
        self.stream = stream or click.get_text_stream("stderr")
        self.live = self.stream.isatty()
        self.last = ""
        self.clock = clock
        self.first: tuple[float, int] | None = None  # (when, done) of the first report of a running job

    def __call__(self, job: dict) -> None:
        text = self.render(job)
        if text == self.last:
            return
        if self.live:
            padding = " " * max(len(self.last) - len(text), 0)  # wipe what a longer line left
            self.stream.write(f"\r{text}{padding}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.last = text

    def render(self, job: dict) -> str:
        done, total = job["progress"]["done"], job["progress"]["total"]
        if not total:
            return f"{job['state']:<9} {done:,} {self.unit}"
        filled = self.width * min(done, total) // total
        bar = "#" * filled + "-" * (self.width - filled)
        amount = (f"{_megabytes(done)}/{_megabytes(total)} MB" if self.unit == "bytes"
                  else f"{done:,}/{total:,} {self.unit}")
        return f"{job['state']:<9} [{bar}] {amount} {100 * done // total:3d}%{self._left(job['state'], done, total)}"

    def _left(self, state: str, done: int, total: int) -> str:
        """The time left at the rate seen since the job started running (after a second of it)."""
        if state != "running":
            return ""
        now = self.clock()
        if self.first is None:
            self.first = (now, done)
        since, done_then = self.first
        if now - since < 1 or done <= done_then or done >= total:
            return ""
        left = (now - since) * (total - done) / (done - done_then)
        return f" {int(left) // 60}:{int(left) % 60:02d} left"

    def close(self) -> None:
        if self.live and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _megabytes(count: int) -> str:
    return f"{count / 1_000_000:,.1f}"


def _count(progress: dict) -> str:
    total = progress["total"]
    return f"{progress['done']:,}/{total:,}" if total else f"{progress['done']:,}"


def _print_json(value) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def register(group: click.Group) -> None:
    """Add the client commands to the `dcoe` group."""
    for command in (login, logout, upload, assign, jobs, summary):
        group.add_command(command)

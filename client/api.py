"""A client of the HTTP API for scripts and the `dcoe` CLI: log in once, reuse the token.

Tokens are cached per server in a JSON file only its owner may read (0600, in a 0700 folder):
$DCOE_TOKEN_CACHE, else $XDG_CACHE_HOME/dcoe/tokens.json, else ~/.cache/dcoe/tokens.json. An
access token the server refuses (401) is renewed with the refresh token, else by logging in again.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

DEFAULT_URL = "http://localhost:5000"
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
MEDIA_TYPES = {".csv": "text/csv", ".json": "application/json", ".ndjson": "application/x-ndjson",
               ".jsonl": "application/x-ndjson"}


class ClientError(Exception):
    """The client cannot go on (no credentials, server unreachable, an unexpected answer)."""


class NotLoggedIn(ClientError):
    """No usable session, and no credentials to start one."""


class ApiError(ClientError):
    """The server answered with a problem (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str | None = None, errors: dict | None = None):
        self.status, self.title, self.detail, self.errors = status, title, detail, errors or {}
        super().__init__(str(self))

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return cls(response.status_code, body.get("title") or response.reason or "Error", body.get("detail"),
                   body.get("errors"))

    def __str__(self) -> str:
        text = f"{self.status} {self.title}"
        if self.detail and self.detail != self.title:
            text += f": {self.detail}"
        for field, messages in self.errors.items():
            text += f"\n  {field}: {'; '.join(messages)}"
        return text


class TokenCache:
    """Tokens per server URL, in a file that only its owner can read."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def default(cls) -> TokenCache:
        """The cache at $DCOE_TOKEN_CACHE, or under the user's cache folder."""
        if os.environ.get("DCOE_TOKEN_CACHE"):
            return cls(Path(os.environ["DCOE_TOKEN_CACHE"]).expanduser())
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cls(base / "dcoe" / "tokens.json")

    def get(self, url: str) -> dict | None:
        return self._read().get(url)

    def put(self, url: str, entry: dict) -> None:
        self._write({**self._read(), url: entry})

    def drop(self, url: str) -> None:
        entries = self._read()
        if entries.pop(url, None) is not None:
            self._write(entries)

    def _read(self) -> dict:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        # a cache others could read or write may hold stolen or planted tokens: not used
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise ClientError(f"{self.path} is readable or writable by others; remove it and log in again")
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def _write(self, entries: dict) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # written beside, then renamed over: a reader never sees half a file
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(entries, out)
            os.replace(temporary, self.path)
        except BaseException:
            os.unlink(temporary)
            raise


class Client:
    """The API at `url`, as the user `email` (or whoever the cached token of `url` belongs to)."""

    def __init__(self, url: str = DEFAULT_URL, *, email: str | None = None,
                 password: str | Callable[[], str] | None = None, cache: TokenCache | None = None,
                 timeout: float = 60):
        self.url = url.rstrip("/")
        self.email = email
        self._password = password  # a callable is asked only when a login is needed
        self.cache = cache or TokenCache.default()
        self.timeout = timeout
        self.session = requests.Session()

    # --- the session -----------------------------------------------------------------------

    def login(self) -> dict:
        """Log in with the email and password; caches the tokens and returns the user."""
        if not self.email:
            raise NotLoggedIn("no email: pass --email or set DCOE_EMAIL")
        password = self._password() if callable(self._password) else self._password
        if not password:
            raise NotLoggedIn(f"not logged in to {self.url}: pass --password or set DCOE_PASSWORD")
        response = self._send("POST", "/api/auth/login", json={"email": self.email, "password": password})
        if response.status_code != 200:
            raise ApiError.from_response(response)
        body = response.json()
        self.cache.put(self.url, {"email": body["user"]["email"], "access_token": body["access_token"],
                                  "refresh_token": body["refresh_token"]})
        return body["user"]

    def logout(self) -> None:
        """End the session on the server (its tokens stop working) and forget it here."""
        if self._cached() is not None:
            try:
                self.request("POST", "/api/auth/logout")
            except (ApiError, NotLoggedIn):
                pass  # the server no longer honours the session: it is over already
        self.cache.drop(self.url)

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send an authenticated request; renews the token once on 401; raises ApiError on 4xx/5xx."""
        entry = self._cached() or self._fresh_login()
        response = self._send(method, path, token=entry["access_token"], **kwargs)
        if response.status_code == 401:
            entry = self._renewed(entry)
            body = kwargs.get("data")
            if hasattr(body, "seek"):
                body.seek(0)
            response = self._send(method, path, token=entry["access_token"], **kwargs)
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _cached(self) -> dict | None:
        entry = self.cache.get(self.url)
        if entry is None or (self.email and entry.get("email", "").lower() != self.email.lower()):
            return None
        return entry

    def _fresh_login(self) -> dict:
        self.login()
        return self.cache.get(self.url)

    def _renewed(self, entry: dict) -> dict:
        """A new access token from the refresh token; a new login when the session is over."""
        response = self._send("POST", "/api/auth/refresh", token=entry["refresh_token"])
        if response.status_code == 200:
            entry = {**entry, "access_token": response.json()["access_token"]}
            self.cache.put(self.url, entry)
            return entry
        self.email = self.email or entry.get("email")
        return self._fresh_login()

    def _send(self, method: str, path: str, *, token: str | None = None, headers: dict | None = None,
              **kwargs) -> requests.Response:
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(method, self.url + path, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.url}: {type(exc).__name__}") from None

    # --- the API -------------------------------------------------------------------------------

    def upload(self, path: Path) -> dict:
        """Upload a case file (CSV, JSON array or NDJSON, by its suffix); returns the ingest job."""
        media_type = MEDIA_TYPES.get(path.suffix.lower(), "text/csv")
        # a 401 arrives before the server reads the body: check the session first, so a large file
        # is sent once; the key makes a resend after a lost answer start nothing new
        self.request("GET", "/api/auth/me")
        with path.open("rb") as body:
            return self.request("POST", "/api/cases/upload", data=body, headers={
                "Content-Type": media_type, "Idempotency-Key": uuid.uuid4().hex}).json()

    def assign(self, dry_run: bool = False) -> dict:
        """Start an assignment run; returns the assign job."""
        return self.request("POST", "/api/cases/assign", json={"dry_run": dry_run}).json()

    def job(self, job_id: str) -> dict:
        return self.request("GET", f"/api/jobs/{job_id}").json()

    def jobs(self, *, job_type: str | None = None, state: str | None = None, limit: int = 20) -> list[dict]:
        """The newest jobs first (the caller's own unless an admin)."""
        params = {"limit": limit, "type": job_type, "state": state}
        return self.request("GET", "/api/jobs", params={k: v for k, v in params.items() if v}).json()["items"]

    def summary(self) -> tuple[dict | None, dict | None]:
        """(the latest summary, None), or (None, the job computing the first one)."""
        response = self.request("GET", "/api/analytics/summary")
        return (None, response.json()) if response.status_code == 202 else (response.json(), None)

    def wait(self, job: dict, on_progress: Callable[[dict], None] | None = None, interval: float = 0.5) -> dict:
        """Poll the job until it finished, telling `on_progress` each time; returns the finished job."""
        while True:
            if on_progress:
                on_progress(job)
            if job["state"] in FINISHED:
                return job
            time.sleep(interval)
            job = self.job(job["id"])

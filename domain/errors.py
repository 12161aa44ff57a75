"""Domain errors: what went wrong in business terms. The web edge maps each to a status code."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    title = "Request cannot be processed"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None,
                 members: dict[str, object] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.members = members or {}  # problem+json extension members (JSON values), e.g. a 409's reasons


class InvalidInput(DomainError):
    title = "Invalid input"


class NotFound(DomainError):
    title = "Not found"


class Forbidden(DomainError):
    title = "Forbidden"


class Conflict(DomainError):
    title = "Conflict"


class PreconditionFailed(DomainError):
    title = "Precondition failed"


class Unauthorized(DomainError):
    title = "Unauthorized"


class JobFailed(DomainError):
    """The job's input cannot be processed; the job ends `failed` with this title and detail."""

    def __init__(self, title: str, detail: str):
        super().__init__(detail)
        self.title = title


class JobCancelled(Exception):
    """Raised at a checkpoint when the job was asked to stop."""

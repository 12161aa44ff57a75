"""Case file uploads: the body is streamed into PostgreSQL and a worker ingests it."""
from __future__ import annotations

from flask import request
from flask_jwt_extended import current_user
from werkzeug.exceptions import UnsupportedMediaType

from domain import ingestion
from domain.errors import InvalidInput
from domain.jobs import JobType
from domain.readers import CSV, JSON, NDJSON
from web.auth import admin_required
from web.extensions import enqueue, settings, unit_of_work
from web.jobs import accepted
from web.schemas.uploads import JOB_HEADERS, UPLOAD_BODY, IngestJobSchema, UploadHeadersSchema
from web.smorest import Blueprint

blp = Blueprint("uploads", __name__, url_prefix="/api/cases", description="Uploading case files")

_RAW_BODIES = {"text/csv": CSV, "application/json": JSON, "application/x-ndjson": NDJSON}
_PART_TYPES = {"application/json": JSON, "application/x-ndjson": NDJSON}
_PART_SUFFIXES = {".json": JSON, ".ndjson": NDJSON, ".jsonl": NDJSON}
ACCEPTED = "multipart/form-data (part file), text/csv, application/json, application/x-ndjson"


@blp.route("/upload", methods=["POST"])
@admin_required
@blp.arguments(UploadHeadersSchema, location="headers", as_kwargs=True)
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(202, IngestJobSchema, headers=JOB_HEADERS,
              description="The ingest job; poll it. A repeated Idempotency-Key answers the first job again.")
@blp.alt_response(400, description="No file, an empty file, or a bad Idempotency-Key")
@blp.alt_response(409, description="The Idempotency-Key was already used for another kind of job")
@blp.alt_response(401, description="No valid bearer token")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(413, description="Larger than MAX_UPLOAD_BYTES")
@blp.alt_response(415, description=f"Not one of: {ACCEPTED}")
def upload(idempotency_key: str | None):
    """Upload a file of cases (CSV, JSON array or NDJSON); a worker ingests it in the background."""
    return start_file_job(JobType.INGEST, idempotency_key)


def start_file_job(job_type: JobType, idempotency_key: str | None) -> tuple:
    """Store the request's file for a job of `job_type` and answer 202 with the job."""
    body, fmt, filename = incoming_file()
    with unit_of_work() as uow:
        job, created = ingestion.start_upload(
            uow, body=body, fmt=fmt, filename=filename, created_by=current_user.id, enqueue=enqueue(),
            chunk_bytes=settings().upload_chunk_bytes, idempotency_key=idempotency_key, job_type=job_type)
    job, status, headers = accepted(job)
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return job, status, headers


def incoming_file():
    """(binary stream, format, filename) of the request; the body is read later, in chunks."""
    request.max_content_length = settings().max_upload_bytes  # the file routes: their bodies may be large
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")  # werkzeug spools the part to a temporary file
        if part is None:
            raise InvalidInput("no file was uploaded", {"file": ["a multipart part named file is required"]})
        filename = _clean_filename(part.filename)
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
        fmt = _PART_TYPES.get(part.mimetype) or _PART_SUFFIXES.get(suffix, CSV)
        return part.stream, fmt, filename
    fmt = _RAW_BODIES.get(request.mimetype)
    if fmt is None:
        raise UnsupportedMediaType(f"the body must be one of: {ACCEPTED}")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"only UTF-8 files are accepted, not {charset}")
    return request.stream, fmt, None


def _clean_filename(name: str | None) -> str | None:
    """The file's base name, printable, at most 255 characters (it is shown back in the job)."""
    if not name:
        return None
    base = "".join(ch for ch in name.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())
    return base[:255] or None

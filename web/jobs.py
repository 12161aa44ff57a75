"""Jobs: poll, list, cancel, and an ingest job's rejected rows."""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import Response, stream_with_context, url_for
from flask_jwt_extended import jwt_required

from domain import jobs as job_cases
from domain.jobs import JobType
from web.auth import viewer
from web.extensions import reading, unit_of_work
from web.pagination import decode_cursor, page
from web.schemas.jobs import JobListArgs, JobPageSchema, JobSchema
from web.smorest import Blueprint

blp = Blueprint("jobs", __name__, url_prefix="/api/jobs", description="Background jobs")


def accepted(job) -> tuple:
    """The contract's answer to a request that started background work."""
    return job, 202, {"Location": url_for("jobs.get_job", job_id=job.id)}


@blp.route("/<uuid:job_id>")
@jwt_required()
@blp.response(200, JobSchema)
def get_job(job_id: uuid.UUID):
    """A job; non-admins see only their own."""
    with reading() as uow:
        return job_cases.get_job(uow, job_id, viewer())


@blp.route("")
@jwt_required()
@blp.arguments(JobListArgs, location="query")
@blp.response(200, JobPageSchema)
def list_jobs(args):
    """Jobs, newest first; non-admins see only their own."""
    after = decode_cursor(args["cursor"], datetime.fromisoformat, uuid.UUID)
    with reading() as uow:
        items = job_cases.list_jobs(uow, viewer(), job_type=args.get("type"), state=args.get("state"),
                                    after=tuple(after) if after else None, limit=args["limit"] + 1)
    return page(items, args["limit"], key=lambda j: [j.created_at.isoformat(), str(j.id)])


@blp.route("/<uuid:job_id>/cancel", methods=["POST"])
@jwt_required()
@blp.response(202, JobSchema)
@blp.alt_response(409, description="The job already finished")
def cancel_job(job_id: uuid.UUID):
    """Cancel a queued job, or ask a running one to stop at its next checkpoint."""
    with unit_of_work() as uow:
        return accepted(job_cases.cancel_job(uow, job_id, viewer()))


@blp.route("/<uuid:job_id>/errors")
@jwt_required()
@blp.response(200, content_type="text/csv", description="line,case_id,field,message — every rejected row problem")
def job_errors(job_id: uuid.UUID):
    """A file job's row errors (ingest, payments, contacts), all of them, as CSV (streamed)."""
    me = viewer()
    with unit_of_work() as uow:
        job = job_cases.get_job(uow, job_id, me)  # 404 when the caller may not see it
    from domain import dialer_logs, ingestion, payment_files

    field_order = {JobType.PAYMENTS: payment_files.ERRORS_FIELD_ORDER,
                   JobType.CONTACTS: dialer_logs.ERRORS_FIELD_ORDER}.get(job.type, ingestion.ERRORS_FIELD_ORDER)
    return Response(stream_with_context(ingestion.stream_error_csv(unit_of_work, job_id, field_order=field_order)),
                    mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="job-{job_id}-errors.csv"'})

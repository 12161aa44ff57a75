"""Analytics API (admin): the latest summary as JSON or CSV, and a refresh on demand."""
from __future__ import annotations

import csv
import io

from flask import Response, json
from flask_jwt_extended import current_user

from domain import analytics
from web.auth import admin_required
from web.extensions import enqueue, unit_of_work
from web.jobs import accepted
from web.schemas.analytics import CollectingSchema, SummarySchema
from web.schemas.jobs import JobSchema
from web.smorest import Blueprint

blp = Blueprint("analytics", __name__, url_prefix="/api/analytics",
                description="The collection summary, computed by a worker and kept as snapshots")

_FIRST_JOB = "No snapshot exists yet: the analytics job computing the first one (the same job for every caller)"
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@blp.route("/summary")
@admin_required
@blp.response(200, SummarySchema)
@blp.alt_response(202, schema=JobSchema, success=True, description=_FIRST_JOB)
def summary():
    """The latest summary snapshot; `as_of` says when it was taken.

    Snapshots are refreshed after every ingest and assign job, a few seconds after status
    changes, and by beat every ANALYTICS_INTERVAL_SECONDS.
    """
    with unit_of_work() as uow:
        found, job = analytics.summary_or_first_refresh(uow, enqueue(), requested_by=current_user.id)
    return found if job is None else _accepted_job(job)


@blp.route("/summary.csv")
@admin_required
@blp.response(200, content_type="text/csv", description=(
    "The same figures for a spreadsheet: UTF-8 with a byte-order mark, one block per figure group "
    "(overview, status, team, aging, agent, collecting), each with its own header row, blocks separated by "
    "an empty row. Text cells starting with = + - @ are prefixed with a single quote."))
@blp.alt_response(202, schema=JobSchema, success=True, description=_FIRST_JOB)
def summary_csv():
    """The latest summary snapshot as CSV."""
    with unit_of_work() as uow:
        found, job = analytics.summary_or_first_refresh(uow, enqueue(), requested_by=current_user.id)
    if job is not None:
        return _accepted_job(job)
    filename = f"collection-summary-{found['as_of'][:10]}.csv"
    return Response(_summary_csv(found), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/refresh", methods=["POST"])
@admin_required
@blp.response(202, JobSchema)
def refresh():
    """Start an analytics job; its `result` is the new summary, also served by GET /summary."""
    with unit_of_work() as uow:
        return accepted(analytics.request_refresh(uow, enqueue(), created_by=current_user.id))


def _accepted_job(job) -> Response:
    """202 with the job, from a view whose 200 answer has another schema."""
    body, status, headers = accepted(job)
    return Response(json.dumps(JobSchema().dump(body)), status=status, headers=headers, mimetype="application/json")


def _summary_csv(summary: dict) -> str:
    blocks = [
        [["figure", "value"],
         *[[key, summary[key]] for key in ("as_of", "total_cases", "total_due_amount", "total_recovered",
                                           "recovery_rate", "avg_resolution_days")]],
        [["status", "cases"], *summary["by_status"].items()],
        [["team", "open", "total"], *[[team, f["open"], f["total"]] for team, f in summary["per_team"].items()]],
        [["aging_dpd", "open_cases"], *summary["aging"].items()],
        [["agent_id", "name", "team", "open", "resolved"],
         *[[a["user_id"], a["name"], a["team"], a["open"], a["resolved"]] for a in summary["per_agent"]]],
    ]
    if "collecting" in summary:  # a snapshot stored before the figures existed has none
        # JSONB keeps no key order: the schema gives the rows theirs (payments, then promises)
        blocks.append([["collecting", "value"], *_flattened(CollectingSchema().dump(summary["collecting"]))])
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheets read UTF-8 (accented names) only with a byte-order mark
    writer = csv.writer(out, lineterminator="\r\n")
    for index, block in enumerate(blocks):
        if index:
            writer.writerow([])
        writer.writerows([[_cell(value) for value in row] for row in block])
    return out.getvalue()


def _flattened(figures: dict, prefix: str = "") -> list[list]:
    """Nested figures as rows named by their path: {"payments": {"count": 3}} → [["payments.count", 3]]."""
    rows = []
    for key, value in figures.items():
        rows += _flattened(value, f"{prefix}{key}.") if isinstance(value, dict) else [[prefix + key, value]]
    return rows


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text

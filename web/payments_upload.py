"""The bank's payments file: stored like a case upload, checked and applied by a worker."""
from __future__ import annotations

from marshmallow import Schema, fields

from domain.jobs import JobType
from domain.payment_files import COLUMNS, REQUIRED
from domain.payments import CLIENT_METHODS, MAX_REFERENCE_LENGTH
from web.auth import admin_required
from web.schemas.jobs import JobSchema
from web.schemas.uploads import JOB_HEADERS, IngestErrorSchema, UploadHeadersSchema, file_body
from web.smorest import Blueprint
from web.uploads import ACCEPTED, start_file_job

blp = Blueprint("payments_upload", __name__, url_prefix="/api/payments", description="The bank's payments file")


class PaymentsResultSchema(Schema):
    rows_total = fields.Integer(required=True)
    rows_applied = fields.Integer(required=True, metadata={"description": "New payments recorded and applied"})
    rows_duplicate = fields.Integer(required=True, metadata={
        "description": "Payments already recorded (same reference, case and amount): nothing written"})
    rows_rejected = fields.Integer(required=True)
    cases_paid_off = fields.Integer(required=True, metadata={"description": "Cases the file resolved (paid in full)"})
    errors_sample = fields.List(fields.Nested(IngestErrorSchema), required=True,
                                metadata={"description": "The first 100 errors; GET /api/jobs/{id}/errors has all"})


class PaymentsJobSchema(JobSchema):
    result = fields.Nested(PaymentsResultSchema, allow_none=True)


_PAYMENT_OBJECT = {
    "type": "object",
    "required": list(REQUIRED),
    "properties": {
        "case_id": {"type": "string", "maxLength": 64, "description": "The bank's case id, as uploaded"},
        "amount": {"oneOf": [{"type": "string", "example": "250.00"}, {"type": "number"}],
                   "description": "A decimal > 0 with at most 2 decimals, at most the case's balance"},
        "paid_on": {"type": "string", "format": "date", "description": "Not after the day the job starts (UTC)"},
        "reference": {"type": "string", "maxLength": MAX_REFERENCE_LENGTH, "description": "Unique per bank"},
        "method": {"type": "string", "enum": [m.value for m in CLIENT_METHODS], "default": "other"},
    },
    "additionalProperties": True,
}

PAYMENTS_BODY = file_body(
    f"The bank's payments file with the columns {', '.join(COLUMNS)} (method optional; names match "
    "case-insensitively after trimming; a UTF-8 BOM is ignored). Each row obeys the single payment's rules; "
    "a reference already recorded with the same case and amount is a duplicate (nothing written), with "
    "anything else a rejected row; bad rows are reported, good rows are applied.", _PAYMENT_OBJECT, "payment")


@blp.route("/upload", methods=["POST"])
@admin_required
@blp.arguments(UploadHeadersSchema, location="headers", as_kwargs=True)
@blp.doc(requestBody=PAYMENTS_BODY)
@blp.response(202, PaymentsJobSchema, headers=JOB_HEADERS,
              description="The payments job; poll it. A repeated Idempotency-Key answers the first job again.")
@blp.alt_response(400, description="No file, an empty file, or a bad Idempotency-Key")
@blp.alt_response(409, description="The Idempotency-Key was already used for another kind of job")
@blp.alt_response(401, description="No valid bearer token")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(413, description="Larger than MAX_UPLOAD_BYTES")
@blp.alt_response(415, description=f"Not one of: {ACCEPTED}")
def upload_payments(idempotency_key: str | None):
    """Upload the bank's payments file (CSV, JSON array or NDJSON); a worker applies it in the background."""
    return start_file_job(JobType.PAYMENTS, idempotency_key)

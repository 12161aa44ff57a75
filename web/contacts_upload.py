"""A dialer's log: stored like a case upload, checked and recorded by a worker."""
from __future__ import annotations

from marshmallow import Schema, fields

from domain.contact_policy import Channel, Direction, Outcome
from domain.contacts import MAX_NOTE_LENGTH
from domain.dialer_logs import COLUMNS, REQUIRED
from domain.jobs import JobType
from web.auth import admin_required
from web.schemas.jobs import JobSchema
from web.schemas.uploads import JOB_HEADERS, IngestErrorSchema, UploadHeadersSchema, file_body
from web.smorest import Blueprint
from web.uploads import ACCEPTED, start_file_job

blp = Blueprint("contacts_upload", __name__, url_prefix="/api/contacts", description="A dialer's log")


class ContactsResultSchema(Schema):
    rows_total = fields.Integer(required=True)
    rows_recorded = fields.Integer(required=True, metadata={"description": "New reported contacts recorded"})
    rows_duplicate = fields.Integer(required=True, metadata={
        "description": "Contacts already recorded (same case, at, channel, direction, outcome), or repeated "
                       "in the file: nothing written"})
    rows_rejected = fields.Integer(required=True)
    violations = fields.Integer(required=True, metadata={
        "description": "Rows recorded with at least one contact policy violation"})
    errors_sample = fields.List(fields.Nested(IngestErrorSchema), required=True,
                                metadata={"description": "The first 100 errors; GET /api/jobs/{id}/errors has all"})


class ContactsJobSchema(JobSchema):
    result = fields.Nested(ContactsResultSchema, allow_none=True)


_CONTACT_OBJECT = {
    "type": "object",
    "required": list(REQUIRED),
    "properties": {
        "case_id": {"type": "string", "maxLength": 64, "description": "The bank's case id, as uploaded"},
        "channel": {"type": "string", "enum": [c.value for c in Channel]},
        "direction": {"type": "string", "enum": [d.value for d in Direction]},
        "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
        "at": {"type": "string", "format": "date-time",
               "description": "ISO 8601 with a UTC offset; not after the job's start"},
        "note": {"type": "string", "maxLength": MAX_NOTE_LENGTH},
    },
    "additionalProperties": True,
}

CONTACTS_BODY = file_body(
    f"A dialer's log with the columns {', '.join(COLUMNS)} (note optional; names match case-insensitively "
    "after trimming; a UTF-8 BOM is ignored). Every valid row is recorded as a reported contact with the "
    "contact policy's rules it broke (policy_violations); a row equal to a recorded contact (same case, at, "
    "channel, direction and outcome) or to an earlier row is a duplicate (nothing written); a dispute_raised "
    "or cease_requested row places its hold; bad rows are reported.", _CONTACT_OBJECT, "contact")


@blp.route("/upload", methods=["POST"])
@admin_required
@blp.arguments(UploadHeadersSchema, location="headers", as_kwargs=True)
@blp.doc(requestBody=CONTACTS_BODY)
@blp.response(202, ContactsJobSchema, headers=JOB_HEADERS,
              description="The contacts job; poll it. A repeated Idempotency-Key answers the first job again.")
@blp.alt_response(400, description="No file, an empty file, or a bad Idempotency-Key")
@blp.alt_response(409, description="The Idempotency-Key was already used for another kind of job")
@blp.alt_response(401, description="No valid bearer token")
@blp.alt_response(403, description="Not an admin")
@blp.alt_response(413, description="Larger than MAX_UPLOAD_BYTES")
@blp.alt_response(415, description=f"Not one of: {ACCEPTED}")
def upload_contacts(idempotency_key: str | None):
    """Upload a dialer's log (CSV, JSON array or NDJSON); a worker records its contacts in the background."""
    return start_file_job(JobType.CONTACTS, idempotency_key)

"""Upload shapes: the Idempotency-Key header, the request body kinds, the ingest job's result."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from domain.case_rules import BORROWER_REF_MAX_LENGTH, COLUMNS, OPTIONAL_COLUMNS
from web.schemas.jobs import JobSchema


class UploadHeadersSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # a request carries many headers; only Idempotency-Key is ours to read

    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None,
        validate=[validate.Length(min=1, max=255),
                  validate.Regexp(r"^[\x21-\x7e]+$", error="must be printable ASCII without spaces")],
        metadata={"description": "Retrying with the same key returns the first job and stores nothing new"},
    )


class IngestErrorSchema(Schema):
    line = fields.Integer(required=True, metadata={
        "description": "CSV: line where the record starts (header = 1); JSON array: element index (from 1); "
                       "NDJSON: line"})
    case_id = fields.String(allow_none=True)
    field = fields.String(required=True, metadata={"description": 'A column, or "_" for the row as a whole'})
    message = fields.String(required=True)


class IngestResultSchema(Schema):
    rows_total = fields.Integer(required=True)
    rows_inserted = fields.Integer(required=True)
    rows_updated = fields.Integer(required=True, metadata={"description": "Rows of cases that already existed"})
    rows_rejected = fields.Integer(required=True)
    released_for_reassignment = fields.Integer(required=True, metadata={
        "description": "Open, assigned cases whose new DPD routes them to another team: unassigned, back to Pending"})
    errors_sample = fields.List(fields.Nested(IngestErrorSchema), required=True,
                                metadata={"description": "The first 100 errors; GET /api/jobs/{id}/errors has all"})


class IngestJobSchema(JobSchema):
    result = fields.Nested(IngestResultSchema, allow_none=True)


_TEXT = {"type": "string"}
_MONEY = {"oneOf": [{"type": "string", "example": "13404.00"}, {"type": "number"}],
          "description": "A decimal >= 0 with at most 2 decimals"}
_CASE_OBJECT = {
    "type": "object",
    "required": list(COLUMNS),
    "properties": {
        "case_id": {"type": "string", "maxLength": 64}, "bank_code": _TEXT, "borrower_name": _TEXT,
        "loan_amount": _MONEY, "due_amount": _MONEY, "days_past_due": {"type": "integer", "minimum": 0},
        "priority": {"type": "string", "enum": ["Low", "Medium", "High", "Critical"],
                     "description": "Any case; stored Title-cased"},
        "region": _TEXT,
        "borrower_ref": {"type": "string", "nullable": True, "maxLength": BORROWER_REF_MAX_LENGTH,
                         "description": "The bank's customer id: cases with the same bank_code and borrower_ref "
                                        "belong to one person. Optional: an absent key keeps the stored value, "
                                        "null or an empty string clears it"},
        "timezone": {"type": "string", "nullable": True, "example": "America/Chicago",
                     "description": "The borrower's IANA time zone name, spelled as IANA does (an unknown name "
                                    "rejects the row). Optional: an absent key keeps the stored value, null or an "
                                    "empty string clears it (the contact policy's default applies)"},
    },
    "additionalProperties": True,
}

def file_body(description: str, item: dict, item_name: str) -> dict:
    """The OpenAPI request body of a file route: multipart, CSV, a JSON array of `item`s, or NDJSON."""
    return {
        "required": True,
        "description": description,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": {
                "type": "string", "format": "binary",
                "description": "CSV; JSON when the part is application/json or named *.json; NDJSON when "
                               "application/x-ndjson or named *.ndjson / *.jsonl"}}}},
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "array", "items": item}},
            "application/x-ndjson": {"schema": {"type": "string", "format": "binary",
                                                "description": f"One {item_name} object per line"}},
        },
    }


UPLOAD_BODY = file_body(
    f"A file of cases with the columns {', '.join(COLUMNS)}, and optionally {', '.join(OPTIONAL_COLUMNS)} "
    "(names match case-insensitively after trimming; extra columns are kept in the raw record only; a UTF-8 "
    "BOM is ignored). The file must be UTF-8. Rows are checked one by one; bad rows are reported, good rows "
    "are loaded. A refresh keeps the stored value of an optional column the file does not have; an empty "
    "cell clears it.", _CASE_OBJECT, "case")

JOB_HEADERS = {
    "Location": {"description": "The job: /api/jobs/<id>", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "Present (true) when an earlier request with the same "
                                           "Idempotency-Key started this job", "schema": {"type": "string"}},
}

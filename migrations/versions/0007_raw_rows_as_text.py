"""raw rows kept as the text received: cases_raw.record becomes text

An upload's every row is kept for the audit (job, line number, the row as received, accepted or
not). Until now the record was JSONB built by PostgreSQL from the parsed values (a CSV row as an
object keyed by the header): ≈ 8 s of a 1,000,000-row job on the 2-core machine, the largest step
after the cases themselves (docs/ingestion.md). DESIGN.md lets raw rows be kept as received
text, so the worker COPYs them straight in: a CSV record's text as it is in the file (its own
line end left out), the JSON text of an element of a JSON array, an NDJSON line that is not JSON
as it is.

Rows kept before this revision become the JSON text of what was kept: a JSON string (how an
unreadable NDJSON line was kept) becomes the string itself, anything else its JSON text (a CSV
row stays an object keyed by its header, the upload holding the file itself). Downgrading turns
text that is JSON back into JSONB and other text into a JSON string, so a downgrade then an
upgrade gives every row back: a CSV record's text unchanged, JSON with the same values in
JSONB's spelling (keys reordered, spaces after separators).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE cases_raw ALTER COLUMN record TYPE text
        USING CASE WHEN jsonb_typeof(record) = 'string' THEN record #>> '{}' ELSE record::text END
    """)


def downgrade() -> None:
    op.execute("""
        CREATE FUNCTION pg_temp.raw_as_jsonb(raw text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN
            RETURN raw::jsonb;
        EXCEPTION WHEN others THEN
            RETURN to_jsonb(raw);
        END $$
    """)
    op.execute("ALTER TABLE cases_raw ALTER COLUMN record TYPE jsonb USING pg_temp.raw_as_jsonb(record)")
    op.execute("DROP FUNCTION pg_temp.raw_as_jsonb(text)")

"""an ingest job's bulk rows keyed by the job, without a key check per row; new cases skip the agent index

A 1,000,000-row upload writes 1,000,000 cases_raw rows (and an ingest_errors row per problem), all
in the job's own transaction. Each row's foreign key to jobs ran a trigger and a lookup of that
one job (≈ 5 s per 1M rows on the 2-core machine), and cases_raw carried an identity key with its
index beside the (job_id, line_no) index every read uses (≈ 2 s more):
- cases_raw is keyed by (job_id, line_no) — one row per line of a job's file — and, like
  ingest_errors, has no foreign key to jobs (jobs are never deleted; the job writes them itself);
- cases_assigned_to_idx covers assigned cases only: every new case is unassigned, and no query
  looks cases up by a null agent (the unassigned ones have cases_unassigned_idx).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint('cases_raw_job_id_fkey', 'cases_raw', type_='foreignkey')
    op.drop_constraint('ingest_errors_job_id_fkey', 'ingest_errors', type_='foreignkey')
    op.drop_constraint('cases_raw_pkey', 'cases_raw', type_='primary')
    op.drop_index('cases_raw_job_line_idx', table_name='cases_raw')
    op.drop_column('cases_raw', 'id')
    op.create_primary_key('cases_raw_pkey', 'cases_raw', ['job_id', 'line_no'])
    op.drop_index('cases_assigned_to_idx', table_name='cases_processed')
    op.create_index('cases_assigned_to_idx', 'cases_processed', ['assigned_to', 'id'],
                    postgresql_where=sa.text('assigned_to IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('cases_assigned_to_idx', table_name='cases_processed')
    op.create_index('cases_assigned_to_idx', 'cases_processed', ['assigned_to', 'id'])
    op.drop_constraint('cases_raw_pkey', 'cases_raw', type_='primary')
    op.add_column('cases_raw', sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False))
    op.create_primary_key('cases_raw_pkey', 'cases_raw', ['id'])
    op.create_index('cases_raw_job_line_idx', 'cases_raw', ['job_id', 'line_no'])
    op.create_foreign_key('ingest_errors_job_id_fkey', 'ingest_errors', 'jobs', ['job_id'], ['id'], ondelete='CASCADE')
    op.create_foreign_key('cases_raw_job_id_fkey', 'cases_raw', 'jobs', ['job_id'], ['id'], ondelete='CASCADE')

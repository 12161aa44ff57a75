"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_snapshots',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('summary', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('analytics_snapshots_as_of_idx', 'analytics_snapshots', [sa.literal_column('as_of DESC')], unique=False)
    op.create_table('assignment_bands',
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('team', sa.Enum('call_center', 'field', 'legal', name='team'), nullable=False),
    sa.Column('max_dpd', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('position')
    )
    op.create_table('users',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.Enum('admin', 'call_center_agent', 'field_agent', 'legal_team', name='user_role'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('users_email_key', 'users', [sa.literal_column('lower(email)')], unique=True)
    op.create_index('users_role_active_idx', 'users', ['role', 'active'], unique=False)
    op.create_table('cases_processed',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('case_id', sa.Text(), nullable=False),
    sa.Column('bank_code', sa.Text(), nullable=False),
    sa.Column('borrower_name', sa.Text(), nullable=False),
    sa.Column('loan_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('due_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Enum('Low', 'Medium', 'High', 'Critical', name='case_priority'), nullable=False),
    sa.Column('region', sa.Text(), nullable=False),
    sa.Column('team', sa.Enum('call_center', 'field', 'legal', name='team'), nullable=False),
    sa.Column('status', sa.Enum('Pending', 'In Progress', 'Resolved', 'Escalated', name='case_status'), server_default='Pending', nullable=False),
    sa.Column('assigned_to', sa.BigInteger(), nullable=True),
    sa.Column('amount_recovered', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('last_job_id', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_to'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    op.create_index('cases_assigned_to_idx', 'cases_processed', ['assigned_to', 'id'], unique=False)
    op.create_index('cases_status_team_due_idx', 'cases_processed', ['status', 'team', sa.literal_column('due_amount DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('cases_unassigned_idx', 'cases_processed', ['team', 'id'], unique=False, postgresql_where=sa.text("assigned_to IS NULL AND status <> 'Resolved'"))
    op.create_table('jobs',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Enum('ingest', 'assign', 'analytics', name='job_type'), nullable=False),
    sa.Column('state', sa.Enum('queued', 'running', 'succeeded', 'failed', 'cancelled', name='job_state'), server_default='queued', nullable=False),
    sa.Column('progress_done', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('progress_total', sa.BigInteger(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('error', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.Text(), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('jobs_created_at_idx', 'jobs', [sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('jobs_created_by_created_at_idx', 'jobs', ['created_by', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('jobs_idempotency_key', 'jobs', ['created_by', 'idempotency_key'], unique=True, postgresql_nulls_not_distinct=True, postgresql_where=sa.text('idempotency_key IS NOT NULL'))
    op.create_index('jobs_unfinished_idx', 'jobs', ['state'], unique=False, postgresql_where=sa.text("state IN ('queued', 'running')"))
    op.create_table('team_rotation',
    sa.Column('team', sa.Enum('call_center', 'field', 'legal', name='team'), nullable=False),
    sa.Column('last_agent_id', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['last_agent_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('team')
    )
    op.create_table('case_assignments',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('case_pk', sa.BigInteger(), nullable=False),
    sa.Column('assigned_to', sa.BigInteger(), nullable=False),
    sa.Column('assigned_by', sa.BigInteger(), nullable=True),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['assigned_to'], ['users.id'], ),
    sa.ForeignKeyConstraint(['case_pk'], ['cases_processed.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('case_assignments_active_key', 'case_assignments', ['case_pk'], unique=True, postgresql_where=sa.text('released_at IS NULL'))
    op.create_index('case_assignments_assigned_to_idx', 'case_assignments', ['assigned_to'], unique=False)
    op.create_table('case_status_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('case_pk', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('by', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.Enum('status', 'assignment', name='history_kind'), nullable=False),
    sa.Column('from_value', sa.Text(), nullable=True),
    sa.Column('to_value', sa.Text(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('job_id', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['case_pk'], ['cases_processed.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('case_status_history_case_idx', 'case_status_history', ['case_pk', 'id'], unique=False)
    op.create_table('cases_raw',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Text(), nullable=True),
    sa.Column('record', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('cases_raw_job_line_idx', 'cases_raw', ['job_id', 'line_no'], unique=False)
    op.create_table('ingest_errors',
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Text(), nullable=True),
    sa.Column('field', sa.Text(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE')
    )
    op.create_index('ingest_errors_job_line_idx', 'ingest_errors', ['job_id', 'line_no'], unique=False)
    op.create_table('uploads',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('job_id', sa.UUID(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=True),
    sa.Column('media_type', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('chunks', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id')
    )
    op.create_table('upload_chunks',
    sa.Column('upload_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('upload_id', 'seq')
    )


    # the default routing bands of the contract: 0-30 call centre, 31-90 field, > 90 legal
    op.execute(
        "INSERT INTO assignment_bands (position, team, max_dpd) "
        "VALUES (1, 'call_center', 30), (2, 'field', 90), (3, 'legal', NULL)"
    )


def downgrade() -> None:
    op.drop_table('upload_chunks')
    op.drop_table('uploads')
    op.drop_index('ingest_errors_job_line_idx', table_name='ingest_errors')
    op.drop_table('ingest_errors')
    op.drop_index('cases_raw_job_line_idx', table_name='cases_raw')
    op.drop_table('cases_raw')
    op.drop_index('case_status_history_case_idx', table_name='case_status_history')
    op.drop_table('case_status_history')
    op.drop_index('case_assignments_assigned_to_idx', table_name='case_assignments')
    op.drop_index('case_assignments_active_key', table_name='case_assignments', postgresql_where=sa.text('released_at IS NULL'))
    op.drop_table('case_assignments')
    op.drop_table('team_rotation')
    op.drop_index('jobs_unfinished_idx', table_name='jobs', postgresql_where=sa.text("state IN ('queued', 'running')"))
    op.drop_index('jobs_idempotency_key', table_name='jobs', postgresql_where=sa.text('idempotency_key IS NOT NULL'))
    op.drop_index('jobs_created_by_created_at_idx', table_name='jobs')
    op.drop_index('jobs_created_at_idx', table_name='jobs')
    op.drop_table('jobs')
    op.drop_index('cases_unassigned_idx', table_name='cases_processed', postgresql_where=sa.text("assigned_to IS NULL AND status <> 'Resolved'"))
    op.drop_index('cases_status_team_due_idx', table_name='cases_processed')
    op.drop_index('cases_assigned_to_idx', table_name='cases_processed')
    op.drop_table('cases_processed')
    op.drop_index('users_role_active_idx', table_name='users')
    op.drop_index('users_email_key', table_name='users')
    op.drop_table('users')
    op.drop_table('assignment_bands')
    op.drop_index('analytics_snapshots_as_of_idx', table_name='analytics_snapshots')
    op.drop_table('analytics_snapshots')
    for enum in ("history_kind", "job_state", "job_type", "case_priority", "case_status", "team", "user_role"):
        op.execute(f"DROP TYPE IF EXISTS {enum}")

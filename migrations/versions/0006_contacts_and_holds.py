"""contacts and holds: the contact log, holds on a case or its borrower, the contact policy

- contacts: every attempt to reach a borrower, made now (checked by the policy) or reported (a
  dialer's log, recorded with the rules it broke). No foreign key: a dialer's log writes a million
  rows in one statement, as the payments ledger does. `contacts_identity_key` makes a reported
  contact recorded once (same case, instant, channel, direction and outcome) and is the index the
  policy gate reads a case's recent contacts by.
- holds: one active hold per type and scope, enforced by two partial unique indexes (a case's;
  a borrower's, by bank_code + borrower_ref).
- contact_policy: the policy's settings and per-bank overrides, one row (none: the defaults).
- the `contacts` job type (the dialer's log).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CHANNELS = ('call', 'sms', 'email', 'letter', 'visit')
DIRECTIONS = ('outbound', 'inbound')
OUTCOMES = ('no_answer', 'voicemail', 'not_connected', 'wrong_party', 'conversation', 'promise_taken',
            'dispute_raised', 'refused', 'cease_requested')
HOLD_TYPES = ('dispute', 'cease', 'bankruptcy', 'attorney', 'pause')
HOLD_SCOPES = ('case', 'borrower')
OLD_JOB_TYPES = ('ingest', 'assign', 'analytics', 'payments', 'promises')


def upgrade() -> None:
    op.execute("ALTER TYPE job_type ADD VALUE IF NOT EXISTS 'contacts'")
    channel = postgresql.ENUM(*CHANNELS, name='contact_channel')
    direction = postgresql.ENUM(*DIRECTIONS, name='contact_direction')
    outcome = postgresql.ENUM(*OUTCOMES, name='contact_outcome')
    hold_type = postgresql.ENUM(*HOLD_TYPES, name='hold_type')
    hold_scope = postgresql.ENUM(*HOLD_SCOPES, name='hold_scope')
    op.create_table(
        'contacts',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column('case_pk', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('channel', channel, nullable=False),
        sa.Column('direction', direction, nullable=False),
        sa.Column('outcome', outcome, nullable=False),
        sa.Column('right_party', sa.Boolean(), nullable=False),
        sa.Column('policy_violations', postgresql.ARRAY(sa.Text()), nullable=False,
                  server_default=sa.text("'{}'")),
        sa.Column('reported', sa.Boolean(), nullable=False),
        sa.Column('override_reason', sa.Text()),
        sa.Column('note', sa.Text()),
        sa.Column('created_by', sa.BigInteger()),
        sa.Column('job_id', postgresql.UUID(as_uuid=True)),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index('contacts_identity_key', 'contacts', ['case_pk', 'at', 'channel', 'direction', 'outcome'],
                    unique=True)
    op.create_index('contacts_at_idx', 'contacts', ['at'],
                    postgresql_include=['direction', 'right_party', 'policy_violations'])
    op.create_table(
        'holds',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column('case_pk', sa.BigInteger(), sa.ForeignKey('cases_processed.id'), nullable=False),
        sa.Column('bank_code', sa.Text(), nullable=False),
        sa.Column('borrower_ref', sa.Text()),
        sa.Column('scope', hold_scope, nullable=False),
        sa.Column('type', hold_type, nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('until', sa.Date()),
        sa.Column('created_by', sa.BigInteger(), sa.ForeignKey('users.id')),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('lifted_at', sa.DateTime(timezone=True)),
        sa.Column('lifted_by', sa.BigInteger(), sa.ForeignKey('users.id')),
        sa.Column('lift_reason', sa.Text()),
    )
    op.create_index('holds_case_idx', 'holds', ['case_pk', 'id'])
    op.create_index('holds_borrower_idx', 'holds', ['bank_code', 'borrower_ref', 'id'],
                    postgresql_where=sa.text("scope = 'borrower' AND borrower_ref IS NOT NULL"))
    op.create_index('holds_one_active_case_key', 'holds', ['case_pk', 'type'], unique=True,
                    postgresql_where=sa.text("lifted_at IS NULL AND (scope = 'case' OR borrower_ref IS NULL)"))
    op.create_index('holds_one_active_borrower_key', 'holds', ['bank_code', 'borrower_ref', 'type'], unique=True,
                    postgresql_where=sa.text("lifted_at IS NULL AND scope = 'borrower' AND borrower_ref IS NOT NULL"))
    op.create_index('holds_created_idx', 'holds', ['created_at'], postgresql_include=['type'])
    op.create_table(
        'contact_policy',
        sa.Column('id', sa.SmallInteger(), sa.CheckConstraint('id = 1', name='contact_policy_one_row'),
                  primary_key=True),
        sa.Column('settings', postgresql.JSONB(), nullable=False),
        sa.Column('updated_by', sa.BigInteger(), sa.ForeignKey('users.id', ondelete='SET NULL')),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table('contact_policy')
    op.drop_table('holds')
    op.drop_table('contacts')
    for name in ('hold_scope', 'hold_type', 'contact_outcome', 'contact_direction', 'contact_channel'):
        op.execute(f'DROP TYPE {name}')
    op.execute("DELETE FROM jobs WHERE type = 'contacts'")
    op.execute('ALTER TYPE job_type RENAME TO job_type_0006')
    postgresql.ENUM(*OLD_JOB_TYPES, name='job_type').create(op.get_bind())
    op.execute('ALTER TABLE jobs ALTER COLUMN type TYPE job_type USING type::text::job_type')
    op.execute('DROP TYPE job_type_0006')

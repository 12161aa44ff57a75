"""money: the borrower's columns, the payments ledger, promises to pay, and their job types

- cases_processed gains borrower_ref, timezone (nullable, no default) and resolved_by_payment
  (default false): PostgreSQL records all three in the catalog without rewriting the table, so
  the upgrade takes milliseconds whatever the book's size (docs/collecting.md measures it at 1M).
- payments: the ledger, one row per payment, its reference unique per bank.
- promises: at most one open per case (a partial unique index).
- Existing data keeps the rule "amount_recovered is the sum of the ledger": every case with an
  amount recovered gets one `settlement` payment of that amount (dated by its resolution), and a
  recovery of 0.00 becomes null (no payment).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

PAYMENT_METHODS = ('transfer', 'card', 'cash', 'cheque', 'other', 'settlement')
PROMISE_STATUSES = ('open', 'kept', 'partial', 'broken', 'cancelled')
OLD_JOB_TYPES = ('ingest', 'assign', 'analytics')


def upgrade() -> None:
    op.execute("ALTER TYPE job_type ADD VALUE IF NOT EXISTS 'payments'")
    op.execute("ALTER TYPE job_type ADD VALUE IF NOT EXISTS 'promises'")
    op.add_column('cases_processed', sa.Column('borrower_ref', sa.Text()))
    op.add_column('cases_processed', sa.Column('timezone', sa.Text()))
    op.add_column('cases_processed', sa.Column('resolved_by_payment', sa.Boolean(), nullable=False,
                                               server_default=sa.text('false')))
    payment_method = postgresql.ENUM(*PAYMENT_METHODS, name='payment_method')
    promise_status = postgresql.ENUM(*PROMISE_STATUSES, name='promise_status')
    op.create_table(
        'payments',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column('case_pk', sa.BigInteger(), nullable=False),
        sa.Column('bank_code', sa.Text(), nullable=False),
        sa.Column('reference', sa.Text(), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), sa.CheckConstraint('amount > 0', name='payments_amount_positive'),
                  nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=False),
        sa.Column('method', payment_method, nullable=False),
        sa.Column('created_by', sa.BigInteger()),
        sa.Column('job_id', postgresql.UUID(as_uuid=True)),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('reversed_at', sa.DateTime(timezone=True)),
        sa.Column('reversed_by', sa.BigInteger()),
        sa.Column('reversal_reason', sa.Text()),
    )
    op.create_index('payments_bank_reference_key', 'payments', ['bank_code', 'reference'], unique=True)
    op.create_index('payments_case_idx', 'payments', ['case_pk', 'id'])
    op.create_table(
        'promises',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column('case_pk', sa.BigInteger(), sa.ForeignKey('cases_processed.id'), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), sa.CheckConstraint('amount > 0', name='promises_amount_positive'),
                  nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('status', promise_status, nullable=False, server_default='open'),
        sa.Column('paid', sa.Numeric(14, 2), nullable=False, server_default='0'),
        sa.Column('created_by', sa.BigInteger(), sa.ForeignKey('users.id')),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column('closed_at', sa.DateTime(timezone=True)),
        sa.Column('closed_by', sa.BigInteger(), sa.ForeignKey('users.id')),
        sa.Column('cancel_reason', sa.Text()),
    )
    op.create_index('promises_one_open_key', 'promises', ['case_pk'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index('promises_case_idx', 'promises', ['case_pk', 'id'])
    op.create_index('promises_open_due_idx', 'promises', ['due_date'], postgresql_where=sa.text("status = 'open'"))
    # the ledger rule for the rows that predate it
    op.execute("""
        INSERT INTO payments (case_pk, bank_code, reference, amount, paid_on, method, created_at)
        SELECT id, bank_code, 'settlement-' || case_id, amount_recovered,
               (coalesce(resolved_at, updated_at) AT TIME ZONE 'UTC')::date, 'settlement',
               coalesce(resolved_at, updated_at)
        FROM cases_processed WHERE amount_recovered > 0
    """)
    op.execute("UPDATE cases_processed SET amount_recovered = NULL WHERE amount_recovered = 0")


def downgrade() -> None:
    # a Resolved case keeps its amount_recovered (the sum of its payments), as 0003 stored it
    op.drop_table('promises')
    op.drop_table('payments')
    op.execute('DROP TYPE promise_status')
    op.execute('DROP TYPE payment_method')
    op.drop_column('cases_processed', 'resolved_by_payment')
    op.drop_column('cases_processed', 'timezone')
    op.drop_column('cases_processed', 'borrower_ref')
    op.execute("DELETE FROM jobs WHERE type IN ('payments', 'promises')")
    op.execute('ALTER TYPE job_type RENAME TO job_type_0004')
    postgresql.ENUM(*OLD_JOB_TYPES, name='job_type').create(op.get_bind())
    op.execute('ALTER TABLE jobs ALTER COLUMN type TYPE job_type USING type::text::job_type')
    op.execute('DROP TYPE job_type_0004')

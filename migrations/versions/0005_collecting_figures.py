"""collecting figures: the summary reads the window's payments and closed promises by range

- payments_paid_on_idx: payments not reversed by paid_on, with their amount, so the summary's
  "payments of the last 30 days" is an index-only range scan instead of a scan of the ledger.
- promises_closed_idx: closed promises by closed_at, with their status, for "promises closed in
  the last 30 days" per status, likewise.

Both are partial (no reversed payment, no open promise) to stay small. Plain CREATE INDEX: it
runs inside the migrations' one transaction (which holds the migration lock), so it blocks writes
to the two tables while it builds — measured in docs/analytics.md (seconds at millions of rows).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('payments_paid_on_idx', 'payments', ['paid_on'], postgresql_include=['amount'],
                    postgresql_where=sa.text('reversed_at IS NULL'))
    op.create_index('promises_closed_idx', 'promises', ['closed_at'], postgresql_include=['status'],
                    postgresql_where=sa.text('closed_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('promises_closed_idx', table_name='promises')
    op.drop_index('payments_paid_on_idx', table_name='payments')

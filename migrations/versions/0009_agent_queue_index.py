"""the agent's queue by amount: (assigned_to, due_amount, id) where assigned

An agent works its own cases biggest debt first (`GET /api/cases?sort=-due_amount`, the
operations day's most frequent request). With (assigned_to, id) alone, every page read all of the
agent's cases and sorted them: 11,057 index entries and heap rows, 55 ms, for one agent of 150
in a 1M-case book, five times that at 5M. Read backwards, this index gives the page in order from
its first 51 entries (0.6 ms), at any depth, and `sort=due_amount` forwards. It is partial like
cases_assigned_to_idx: new, unassigned cases cost an upload nothing; an assignment run writes one
entry more per case: `python -m bench.assign` (1M cases, quiet machine) 46.4 s before, 50.0 s
with it (+8 %); its bare UPDATE reference 30.0 -> 31.8 s.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('cases_assignee_due_idx', 'cases_processed', ['assigned_to', 'due_amount', 'id'],
                    postgresql_where=sa.text('assigned_to IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('cases_assignee_due_idx', table_name='cases_processed')

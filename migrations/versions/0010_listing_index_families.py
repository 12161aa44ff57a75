"""the listing's two index families: (status, <sort>, id) and (assigned_to, <sort>, id) for every sort

Every page of `GET /api/cases` is read in sort order from one of them (store/case_listing.py,
docs/cases.md): a filter naming a status reads `(status, <sort>, id)`; one naming an assignee (an
agent's own queue, `assigned_to`, `unassigned=true`, the NULL part) reads `(assigned_to, <sort>, id)`;
any other filter merges one short branch per status. `(status, team, days_past_due, id)` serves a
team by DPD, since DPD decides the team. With them a page costs about its own rows at any depth;
without them, every filter × sort but three sorted all its matches (1.88 s p95 at 1M cases for
`sort=-created_at` at depth 10,001).

`cases_status_team_due_idx (status, team, due_amount DESC, id DESC)` goes: the status family
serves its listing (a team is a third of a status's cases), and its mixed directions made the
planner sort a whole status and team (4,458 rows at 1M) where `(status, due_amount, id)` read
backwards gives the page from ~340 entries.

The assignee family is no longer partial: the unassigned cases are its NULL part, read in order
(they were sorted from cases_unassigned_idx: 139 ms at 1M). `cases_assigned_to_idx` and
`cases_assignee_due_idx` (partial) become `cases_assignee_id_idx` and `cases_assignee_due_amount_idx`.

What they cost to write is measured in docs/cases.md (assignment and ingestion benchmarks, before
and after, one run after the other).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SORTS = ('id', 'due_amount', 'days_past_due', 'updated_at', 'created_at', 'priority')


def upgrade() -> None:
    op.drop_index('cases_status_team_due_idx', table_name='cases_processed')
    op.drop_index('cases_assigned_to_idx', table_name='cases_processed')
    op.drop_index('cases_assignee_due_idx', table_name='cases_processed')
    for field in SORTS:
        columns = ['id'] if field == 'id' else [field, 'id']
        op.create_index(f'cases_status_{field}_idx', 'cases_processed', ['status', *columns])
        op.create_index(f'cases_assignee_{field}_idx', 'cases_processed', ['assigned_to', *columns])
    op.create_index('cases_status_team_dpd_idx', 'cases_processed', ['status', 'team', 'days_past_due', 'id'])


def downgrade() -> None:
    op.drop_index('cases_status_team_dpd_idx', table_name='cases_processed')
    for field in SORTS:
        op.drop_index(f'cases_assignee_{field}_idx', table_name='cases_processed')
        op.drop_index(f'cases_status_{field}_idx', table_name='cases_processed')
    op.create_index('cases_assignee_due_idx', 'cases_processed', ['assigned_to', 'due_amount', 'id'],
                    postgresql_where=sa.text('assigned_to IS NOT NULL'))
    op.create_index('cases_assigned_to_idx', 'cases_processed', ['assigned_to', 'id'],
                    postgresql_where=sa.text('assigned_to IS NOT NULL'))
    op.create_index('cases_status_team_due_idx', 'cases_processed',
                    ['status', 'team', sa.literal_column('due_amount DESC'), sa.literal_column('id DESC')])

"""a case's latest promise status and its hold flag on the case, with their partial index families

`promise=` and `on_hold=true` were checked on every row a listing walked: the case's latest
promise probed per row, the active holds hashed per status branch. A filter few cases pass then
walked whole branches (the Pending branch holds no promise: 150,000 cases at 5M; `promise=broken`
took up to 308 ms, `on_hold=true` 226 ms). Kept on the case, each reads its own partial index in
sort order, and a case with neither (most of them, every new one) writes no entry there.

`cases_status_priority_due_amount_idx`: priority follows the amount (Critical cases are the large
ones), so a priority by ascending amount walked past most of its status first (28,273 buffers at 5M
for `team=legal&priority=Critical&sort=due_amount`).

The backfill writes the cases that have a promise or a hold (a few percent of the book).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

SORTS = ('id', 'due_amount', 'days_past_due', 'updated_at', 'created_at', 'priority')


def upgrade() -> None:
    op.add_column('cases_processed', sa.Column(
        'latest_promise', postgresql.ENUM(name='promise_status', create_type=False), nullable=True))
    op.add_column('cases_processed', sa.Column('on_hold', sa.Boolean(), server_default=sa.text('false'),
                                               nullable=False))
    op.execute("""
        UPDATE cases_processed c SET latest_promise = l.status
          FROM (SELECT DISTINCT ON (case_pk) case_pk, status FROM promises ORDER BY case_pk, id DESC) l
         WHERE c.id = l.case_pk""")
    op.execute("""
        UPDATE cases_processed c SET on_hold = true
         WHERE EXISTS (SELECT FROM holds h WHERE h.lifted_at IS NULL AND h.case_pk = c.id)
            OR EXISTS (SELECT FROM holds h WHERE h.lifted_at IS NULL AND h.scope = 'borrower'
                          AND h.borrower_ref IS NOT NULL AND h.bank_code = c.bank_code
                          AND h.borrower_ref = c.borrower_ref)""")
    op.create_index('cases_status_priority_due_amount_idx', 'cases_processed',
                    ['status', 'priority', 'due_amount', 'id'])
    for field in SORTS:
        columns = ['id'] if field == 'id' else [field, 'id']
        op.create_index(f'cases_promise_{field}_idx', 'cases_processed', ['latest_promise', *columns],
                        postgresql_where=sa.text('latest_promise IS NOT NULL'))
        op.create_index(f'cases_held_{field}_idx', 'cases_processed', columns,
                        postgresql_where=sa.text('on_hold'))
    op.execute("ANALYZE cases_processed")


def downgrade() -> None:
    for field in SORTS:
        op.drop_index(f'cases_held_{field}_idx', table_name='cases_processed')
        op.drop_index(f'cases_promise_{field}_idx', table_name='cases_processed')
    op.drop_index('cases_status_priority_due_amount_idx', table_name='cases_processed')
    op.drop_column('cases_processed', 'on_hold')
    op.drop_column('cases_processed', 'latest_promise')

"""assignment history read from case_assignments; audit rows without a key check on their case

An assignment run wrote, per case, one case_assignments row and two history rows (the assignment
and its status move), and PostgreSQL checked each row's foreign key to cases_processed by locking
the case again — a lock written to the WAL per row, on a case the same statement had just updated
(docs/assignment.md measures it). Now:
- a case_assignments row is the whole record of an assignment: who, by whom, the status move it
  made (status_from/status_to) and, once it ends, when, by whom and why (released_by is new);
- case_status_history keeps the status moves of users and of releases only, typed as statuses;
- neither table has a foreign key to cases_processed, and case_assignments none to users: their
  rows are written only from the RETURNING of the UPDATE of their case, whose own key
  (cases_processed.assigned_to -> users) the same statement checks; the actor is the job's creator
  (jobs.created_by -> users) or the admin making the request; cases and users are never deleted.
  A key check is a trigger call per row (three per assignment), and for a case a row lock too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('case_assignments', sa.Column('status_from', sa.Enum(name='case_status', create_type=False)))
    op.add_column('case_assignments', sa.Column('status_to', sa.Enum(name='case_status', create_type=False)))
    op.add_column('case_assignments', sa.Column('released_by', sa.BigInteger()))
    # 0001 showed a history in id order, and stamped an ingest's releases with the time its
    # transaction began: a time earlier than a change before them in id order is moved just
    # after it (the rows of one statement keep sharing one time), so the history, now shown in
    # time order, keeps the order it had
    op.execute("""
        CREATE TEMP TABLE history_times ON COMMIT DROP AS
        SELECT id, at AS stored_at, CASE WHEN at < before THEN before + interval '1 microsecond' ELSE at END AS at
        FROM (SELECT id, at, max(at) OVER (PARTITION BY case_pk ORDER BY id
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
              FROM case_status_history) ordered
    """)
    # the actor of each past release was only in its history row
    op.execute("""
        UPDATE case_assignments a SET released_by = h.by, released_at = t.at
        FROM case_status_history h JOIN history_times t ON t.id = h.id
        WHERE h.kind = 'assignment' AND h.case_pk = a.case_pk AND h.to_value IS NULL
          AND h.from_value = a.assigned_to::text AND h.at = a.released_at
    """)
    op.execute("""
        UPDATE case_assignments a SET assigned_at = t.at
        FROM case_status_history h JOIN history_times t ON t.id = h.id
        WHERE h.kind = 'assignment' AND h.case_pk = a.case_pk AND h.from_value IS NULL
          AND h.to_value = a.assigned_to::text AND h.at = a.assigned_at AND t.at <> t.stored_at
    """)
    op.execute("UPDATE case_status_history h SET at = t.at FROM history_times t WHERE t.id = h.id AND t.at <> t.stored_at")
    op.execute("DELETE FROM case_status_history WHERE kind = 'assignment'")
    op.drop_column('case_status_history', 'kind')
    op.execute('DROP TYPE history_kind')
    for column in ('from_value', 'to_value'):
        op.alter_column('case_status_history', column, type_=sa.Enum(name='case_status', create_type=False),
                        postgresql_using=f'{column}::case_status')
    op.drop_constraint('case_assignments_case_pk_fkey', 'case_assignments', type_='foreignkey')
    op.drop_constraint('case_status_history_case_pk_fkey', 'case_status_history', type_='foreignkey')
    for column in ('assigned_to', 'assigned_by'):
        op.drop_constraint(f'case_assignments_{column}_fkey', 'case_assignments', type_='foreignkey')
    # keyed by case: the key's index serves the history's lookups, no second index to maintain;
    # nothing looks assignments up by agent
    op.drop_index('case_assignments_assigned_to_idx', table_name='case_assignments')
    for table, index in (('case_assignments', None), ('case_status_history', 'case_status_history_case_idx')):
        op.drop_constraint(f'{table}_pkey', table, type_='primary')
        op.create_primary_key(f'{table}_pkey', table, ['case_pk', 'id'])
        if index:
            op.drop_index(index, table_name=table)


def downgrade() -> None:
    for table, index in (('case_assignments', None), ('case_status_history', 'case_status_history_case_idx')):
        if index:
            op.create_index(index, table, ['case_pk', 'id'])
        op.drop_constraint(f'{table}_pkey', table, type_='primary')
        op.create_primary_key(f'{table}_pkey', table, ['id'])
    op.create_index('case_assignments_assigned_to_idx', 'case_assignments', ['assigned_to'])
    for column in ('assigned_to', 'assigned_by'):
        op.create_foreign_key(f'case_assignments_{column}_fkey', 'case_assignments', 'users', [column], ['id'])
    op.create_foreign_key('case_status_history_case_pk_fkey', 'case_status_history', 'cases_processed',
                          ['case_pk'], ['id'], ondelete='CASCADE')
    op.create_foreign_key('case_assignments_case_pk_fkey', 'case_assignments', 'cases_processed',
                          ['case_pk'], ['id'], ondelete='CASCADE')
    for column in ('from_value', 'to_value'):
        op.alter_column('case_status_history', column, type_=sa.Text(), postgresql_using=f'{column}::text')
    history_kind = sa.Enum('status', 'assignment', name='history_kind')
    history_kind.create(op.get_bind())
    op.add_column('case_status_history', sa.Column('kind', history_kind, nullable=False, server_default='status'))
    op.alter_column('case_status_history', 'kind', server_default=None)
    # the history rows the assignments stood for (start, status move, end) among the status moves,
    # rewritten in the order the history shows them: 0001 reads a case's history in id order
    op.execute("""
        CREATE TEMP TABLE history_rows ON COMMIT DROP AS
        SELECT case_pk, at, by, kind::history_kind, from_value, to_value, comment, job_id, seq, id FROM (
            SELECT case_pk, at, by, 'status' AS kind, from_value, to_value, comment, job_id, 2 AS seq, id
            FROM case_status_history
            UNION ALL
            SELECT case_pk, assigned_at, assigned_by, 'assignment', NULL, assigned_to::text, NULL, job_id, 0, id
            FROM case_assignments
            UNION ALL
            SELECT case_pk, assigned_at, assigned_by, 'status', status_from::text, status_to::text, NULL, job_id, 1, id
            FROM case_assignments WHERE status_from <> status_to
            UNION ALL
            SELECT case_pk, released_at, released_by, 'assignment', assigned_to::text, NULL, release_reason, job_id,
                   0, id
            FROM case_assignments WHERE released_at IS NOT NULL
        ) entries
    """)
    op.execute("DELETE FROM case_status_history")
    op.execute("""
        INSERT INTO case_status_history (case_pk, at, by, kind, from_value, to_value, comment, job_id)
        SELECT case_pk, at, by, kind, from_value, to_value, comment, job_id FROM history_rows ORDER BY at, seq, id
    """)
    op.drop_column('case_assignments', 'released_by')
    op.drop_column('case_assignments', 'status_to')
    op.drop_column('case_assignments', 'status_from')

"""list indexes: the borrower filters and the case_id prefix served by an index; planner statistics

docs/cases.md says which index serves which question and what each costs to write:
- cases_processed_case_id_key becomes a unique index with text_pattern_ops: the same uniqueness
  and equality, and case_id prefixes (`q`, LIKE 'p%') as an index range under any collation,
  without a second index on case_id.
- cases_borrower_words_idx: GIN over the borrower's name as words, lowercased and stripped of
  accents by translate() (core PostgreSQL: no unaccent); store/case_listing.py builds the same
  expression for the `borrower` filter.
- cases_borrower_ref_idx (borrower_ref, bank_code), where there is a borrower_ref: the
  borrower_ref filter, and the cases a borrower hold covers (store/holds.py).
- Extended statistics on (team, days_past_due) (DPD decides the team) and on (status, team,
  priority, region), so the planner's estimates of combined filters are not products of
  independent guesses.

Not here: one (status, <sort>, id) and one (assigned_to, <sort>, id) index per sort field (13
more indexes), measured on the lists branch: every page of every filter × sort then read in
index order at any depth, but an assignment run of 1M cases took 96.8 s instead of 38.5 s and a
1M-case COPY 62 s instead of 17 s (same machine, one after the other) — a regression of the
assignment and ingestion targets. docs/cases.md keeps the measurements and the way forward.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# store/case_listing.py: ACCENTED, PLAIN (frozen here as they were when the index was built)
ACCENTED = ('øØłŁđĐıħĦÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğ'
            'ĠġĢģĤĥĨĩĪīĬĭĮįİĲĳĴĵĶķĹĺĻļĽľĿŀŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžſ')
PLAIN = ('oollddihhaaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiiiinooooouuuuyyaaaaaaccccccccddeeeeeeeeeegggggggg'
         'hhiiiiiiiiiiijjkkllllllllnnnnnnoooooorrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzzzs')
NAME_WORDS = f"to_tsvector('simple'::regconfig, lower(translate(borrower_name, '{ACCENTED}', '{PLAIN}')))"


def upgrade() -> None:
    op.drop_constraint('cases_processed_case_id_key', 'cases_processed', type_='unique')
    op.create_index('cases_processed_case_id_key', 'cases_processed', ['case_id'], unique=True,
                    postgresql_ops={'case_id': 'text_pattern_ops'})
    op.execute(f"CREATE INDEX cases_borrower_words_idx ON cases_processed USING gin ({NAME_WORDS})")
    op.create_index('cases_borrower_ref_idx', 'cases_processed', ['borrower_ref', 'bank_code'],
                    postgresql_where=sa.text('borrower_ref IS NOT NULL'))
    op.execute("CREATE STATISTICS cases_team_dpd_stats (dependencies) ON team, days_past_due FROM cases_processed")
    op.execute("CREATE STATISTICS cases_filters_stats (dependencies, mcv) ON status, team, priority, region "
               "FROM cases_processed")
    op.execute("ANALYZE cases_processed")


def downgrade() -> None:
    op.execute("DROP STATISTICS cases_filters_stats")
    op.execute("DROP STATISTICS cases_team_dpd_stats")
    op.drop_index('cases_borrower_ref_idx', table_name='cases_processed')
    op.drop_index('cases_borrower_words_idx', table_name='cases_processed')
    op.drop_index('cases_processed_case_id_key', table_name='cases_processed')
    op.create_unique_constraint('cases_processed_case_id_key', 'cases_processed', ['case_id'])

"""dashboard facts and running totals; the lists' search text and its GIN index (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('application_facts',
    sa.Column('application_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=True),
    sa.Column('requested_cents', sa.BigInteger(), nullable=True),
    sa.Column('applicant_country', sa.String(length=2), nullable=False),
    sa.Column('applicant_type', sa.String(length=20), nullable=False),
    sa.Column('awarded_cents', sa.BigInteger(), nullable=False),
    sa.Column('committed_cents', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.Column('dialogues', sa.String(length=200), nullable=False),
    sa.Column('jvap_domains', sa.String(length=100), nullable=False),
    sa.Column('countries', sa.String(length=400), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('application_id', name=op.f('pk_application_facts'))
    )
    with op.batch_alter_table('application_facts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_facts_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('dashboard_rollups',
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('dialogues', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('applications', sa.Integer(), nullable=False),
    sa.Column('awarded_applications', sa.Integer(), nullable=False),
    sa.Column('requested_cents', sa.BigInteger(), nullable=False),
    sa.Column('awarded_cents', sa.BigInteger(), nullable=False),
    sa.Column('committed_cents', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'call_id', 'kind', 'dialogues', 'value', 'lot_id', 'state', name=op.f('pk_dashboard_rollups'))
    )

    if op.get_bind().dialect.name == 'postgresql':
        # The lists' full-text search; a search uses exactly this expression.
        op.create_index('ix_application_facts_search', 'application_facts',
                        [sa.text("to_tsvector('simple', search_text)")], postgresql_using='gin')

    # Count what is already there (the application's own code: the one definition of
    # what the dashboard counts).
    from grants.services.dashboard_facts import rebuild

    rebuild(op.get_bind())


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_application_facts_search', table_name='application_facts')
    op.drop_table('dashboard_rollups')
    with op.batch_alter_table('application_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_facts_organisation_id'))

    op.drop_table('application_facts')

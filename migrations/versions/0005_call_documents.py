"""call documents: guidelines, templates and annexes published with a call

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

import grants.database


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('call_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', grants.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('guidelines', 'application_form', 'budget_template', 'annex')", name=op.f('ck_call_documents_kind')),
    sa.CheckConstraint("language IN ('en', 'fr')", name=op.f('ck_call_documents_language')),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_call_documents_size')),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_documents_call_id_calls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_call_documents_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_documents')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_call_documents_stored_name'))
    )
    with op.batch_alter_table('call_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_documents_call_id'), ['call_id'], unique=False)


def downgrade():
    with op.batch_alter_table('call_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_documents_call_id'))

    op.drop_table('call_documents')

"""panel members: evaluators attached to a call's panel

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:15:00

"""
import sqlalchemy as sa
from alembic import op

import grants.database

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'panel_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('evaluator_id', sa.Integer(), nullable=False),
        sa.Column('added_at', grants.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column('added_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['added_by_id'], ['users.id'],
                                name=op.f('fk_panel_members_added_by_id_users')),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE',
                                name=op.f('fk_panel_members_call_id_calls')),
        sa.ForeignKeyConstraint(['evaluator_id'], ['users.id'],
                                name=op.f('fk_panel_members_evaluator_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_members')),
        sa.UniqueConstraint('call_id', 'evaluator_id', name=op.f('uq_panel_members_call_id')),
    )
    with op.batch_alter_table('panel_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_members_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_panel_members_evaluator_id'), ['evaluator_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('panel_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_members_evaluator_id'))
        batch_op.drop_index(batch_op.f('ix_panel_members_call_id'))
    op.drop_table('panel_members')

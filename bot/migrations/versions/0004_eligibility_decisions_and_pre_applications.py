"""eligibility: decisions (with the rules version) and pre-applications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('eligibility_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rules_version', sa.String(length=64), nullable=False),
    sa.Column('province', sa.String(length=40), nullable=False),
    sa.Column('matter', sa.String(length=40), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('means_test', sa.String(length=20), nullable=False),
    sa.Column('basis', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('input', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('eligibility_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eligibility_decisions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_decisions_rules_version'), ['rules_version'], unique=False)

    op.create_table('eligibility_pre_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('forwarded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['eligibility_decisions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token')
    )
    with op.batch_alter_table('eligibility_pre_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eligibility_pre_applications_decision_id'), ['decision_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_pre_applications_sender'), ['sender'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('eligibility_pre_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eligibility_pre_applications_sender'))
        batch_op.drop_index(batch_op.f('ix_eligibility_pre_applications_decision_id'))

    op.drop_table('eligibility_pre_applications')
    with op.batch_alter_table('eligibility_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eligibility_decisions_rules_version'))
        batch_op.drop_index(batch_op.f('ix_eligibility_decisions_created_at'))

    op.drop_table('eligibility_decisions')

"""channels: shared key-value storage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_kv',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('channel_kv', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_kv_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('channel_kv', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_kv_expires_at'))

    op.drop_table('channel_kv')

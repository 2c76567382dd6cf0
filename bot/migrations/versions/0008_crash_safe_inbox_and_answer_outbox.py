"""channels: channel_inbox (a message recorded before it is worked on); handoff_deliveries carry answer parts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_inbox',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=False),
    sa.Column('openid', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('owner', sa.String(length=100), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('channel_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_inbox_state'), ['state'], unique=False)

    with op.batch_alter_table('handoff_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('counted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_handoff_deliveries_message_key'), ['message_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoff_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_deliveries_message_key'))
        batch_op.drop_column('counted')
        batch_op.drop_column('message_key')

    with op.batch_alter_table('channel_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_inbox_state'))

    op.drop_table('channel_inbox')

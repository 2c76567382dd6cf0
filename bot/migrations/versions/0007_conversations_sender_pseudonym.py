"""bot: conversations.sender, the pseudonym Rasa knows the resident by, indexed for the custom actions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_conversations_sender'), ['sender'], unique=False)
    # Existing conversations get the pseudonym bot.conversation.sender_id gives (sha256 of the key, 32 hex).
    conversations = sa.table('conversations', sa.column('id', sa.Integer), sa.column('key', sa.String),
                             sa.column('sender', sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(conversations.c.id, conversations.c.key)
                              .where(conversations.c.sender.is_(None))).all()
    for row_id, key in rows:
        connection.execute(conversations.update().where(conversations.c.id == row_id)
                           .values(sender=hashlib.sha256(key.encode()).hexdigest()[:32]))


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_sender'))
        batch_op.drop_column('sender')

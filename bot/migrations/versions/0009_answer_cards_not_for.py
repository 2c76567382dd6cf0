"""corpus: answer_cards.not_for, the questions a card must not answer (its scope, issue #15 item 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Cards imported before this revision get an empty list; `lawline corpus import` fills it (their files changed).
    with op.batch_alter_table('answer_cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_for', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('answer_cards', schema=None) as batch_op:
        batch_op.drop_column('not_for')

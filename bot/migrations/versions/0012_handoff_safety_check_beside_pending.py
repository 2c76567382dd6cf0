"""handoff: the safety check kept beside the pending question, not in its place (issue #14)

A resident answering another question (the village, a rating, a phone number) got no safety check, because
the check used the one pending slot. Checks recorded the old way move to the new columns.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_RESIDENTS = sa.table('handoff_residents', sa.column('conversation_key', sa.String), sa.column('pending', sa.String),
                      sa.column('pending_data', sa.JSON), sa.column('pending_until', sa.DateTime(timezone=True)),
                      sa.column('safety_check_until', sa.DateTime(timezone=True)),
                      sa.column('safety_check_kinds', sa.JSON))


def upgrade() -> None:
    with op.batch_alter_table('handoff_residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('safety_check_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('safety_check_kinds', sa.JSON(), nullable=True))
    connection = op.get_bind()
    old = connection.execute(sa.select(_RESIDENTS.c.conversation_key, _RESIDENTS.c.pending_data,
                                       _RESIDENTS.c.pending_until).where(_RESIDENTS.c.pending == 'safety_check'))
    for key, data, until in old.all():
        connection.execute(_RESIDENTS.update().where(_RESIDENTS.c.conversation_key == key).values(
            safety_check_until=until, safety_check_kinds=list((data or {}).get('kinds') or []),
            pending=None, pending_data={}, pending_until=None))


def downgrade() -> None:
    with op.batch_alter_table('handoff_residents', schema=None) as batch_op:
        batch_op.drop_column('safety_check_kinds')
        batch_op.drop_column('safety_check_until')

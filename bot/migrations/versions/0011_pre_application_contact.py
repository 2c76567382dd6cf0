"""eligibility: the name and phone a resident agreed to leave with a pre-application (issue #17 item 2)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('eligibility_pre_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('consented_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_eligibility_pre_applications_contact_phone', ['contact_phone'])


def downgrade() -> None:
    with op.batch_alter_table('eligibility_pre_applications', schema=None) as batch_op:
        batch_op.drop_index('ix_eligibility_pre_applications_contact_phone')
        batch_op.drop_column('consented_at')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')

"""handoff: tickets and their history, robot outbox, deliveries to residents, resident profiles, feedback

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handoff_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('conversation_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('via', sa.String(length=20), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_handoff_deliveries_key_state', ['conversation_key', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_deliveries_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('handoff_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_key', sa.String(length=200), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_feedback_conversation_key'), ['conversation_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_feedback_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('handoff_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.String(length=60), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_handoff_outbox_group_sent', ['group_id', 'sent_at'], unique=False)
        batch_op.create_index('ix_handoff_outbox_state_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_outbox_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('handoff_residents',
    sa.Column('conversation_key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=True),
    sa.Column('openid', sa.String(length=100), nullable=True),
    sa.Column('village', sa.String(length=60), nullable=True),
    sa.Column('last_topic', sa.String(length=20), nullable=True),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_since_inbound', sa.Integer(), nullable=False),
    sa.Column('pending', sa.String(length=30), nullable=True),
    sa.Column('pending_data', sa.JSON(), nullable=False),
    sa.Column('pending_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('conversation_key')
    )
    op.create_table('handoff_tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=True),
    sa.Column('openid', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('topic', sa.String(length=20), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('answered', sa.JSON(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('danger', sa.String(length=100), nullable=True),
    sa.Column('village', sa.String(length=60), nullable=True),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('group_id', sa.String(length=60), nullable=True),
    sa.Column('assignee', sa.String(length=60), nullable=True),
    sa.Column('owner', sa.String(length=60), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resident_waiting_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_phone', sa.String(length=30), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_tickets_conversation_key'), ['conversation_key'], unique=False)
        batch_op.create_index('ix_handoff_tickets_state_created', ['state', 'created_at'], unique=False)

    op.create_table('handoff_ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('actor', sa.String(length=60), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['handoff_tickets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_ticket_events_ticket_id'), ['ticket_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoff_ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_ticket_events_ticket_id'))

    op.drop_table('handoff_ticket_events')
    with op.batch_alter_table('handoff_tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_handoff_tickets_state_created')
        batch_op.drop_index(batch_op.f('ix_handoff_tickets_conversation_key'))

    op.drop_table('handoff_tickets')
    op.drop_table('handoff_residents')
    with op.batch_alter_table('handoff_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_outbox_ticket_id'))
        batch_op.drop_index('ix_handoff_outbox_state_due')
        batch_op.drop_index('ix_handoff_outbox_group_sent')

    op.drop_table('handoff_outbox')
    with op.batch_alter_table('handoff_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_feedback_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_handoff_feedback_conversation_key'))

    op.drop_table('handoff_feedback')
    with op.batch_alter_table('handoff_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_deliveries_ticket_id'))
        batch_op.drop_index('ix_handoff_deliveries_key_state')

    op.drop_table('handoff_deliveries')

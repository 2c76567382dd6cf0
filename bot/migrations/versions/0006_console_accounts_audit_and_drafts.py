"""console: accounts, sessions, login attempts, audit log, corpus drafts, answer ratings, retrieval judgements

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('display_name', sa.String(length=60), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('villages', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('console_login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('console_login_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_login_attempts_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_login_attempts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_login_attempts_username'), ['username'], unique=False)

    op.create_table('console_audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target', sa.String(length=400), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['console_accounts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('console_audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_audit_log_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_audit_log_created_at'), ['created_at'], unique=False)

    op.create_table('console_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=400), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('base_sha256', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['console_accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['console_accounts.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('console_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_drafts_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_drafts_target'), ['target'], unique=False)

    op.create_table('console_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['console_accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_sessions_expires_at'), ['expires_at'], unique=False)

    op.create_table('answer_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', name='uq_answer_rating_message')
    )
    with op.batch_alter_table('answer_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_ratings_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_ratings_created_at'), ['created_at'], unique=False)

    op.create_table('retrieval_judgements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('document_id', sa.String(length=400), nullable=True),
    sa.Column('citation', sa.String(length=400), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['console_accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', name='uq_judgement_message')
    )
    with op.batch_alter_table('retrieval_judgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrieval_judgements_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('retrieval_judgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retrieval_judgements_created_at'))
    op.drop_table('retrieval_judgements')
    with op.batch_alter_table('answer_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_ratings_created_at'))
        batch_op.drop_index(batch_op.f('ix_answer_ratings_conversation_id'))
    op.drop_table('answer_ratings')
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_console_sessions_account_id'))
    op.drop_table('console_sessions')
    with op.batch_alter_table('console_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_drafts_target'))
        batch_op.drop_index(batch_op.f('ix_console_drafts_status'))
    op.drop_table('console_drafts')
    with op.batch_alter_table('console_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_audit_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_console_audit_log_action'))
        batch_op.drop_index(batch_op.f('ix_console_audit_log_account_id'))
    op.drop_table('console_audit_log')
    with op.batch_alter_table('console_login_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_login_attempts_username'))
        batch_op.drop_index(batch_op.f('ix_console_login_attempts_created_at'))
        batch_op.drop_index(batch_op.f('ix_console_login_attempts_address'))
    op.drop_table('console_login_attempts')
    op.drop_table('console_accounts')

"""corpus: laws, articles, cases, answer cards

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('source_file', sa.String(length=400), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('next_steps', sa.JSON(), nullable=False),
    sa.Column('where_to_go', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Date(), nullable=True),
    sa.Column('reviewed', sa.Boolean(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug'),
    sa.UniqueConstraint('source_file')
    )
    with op.batch_alter_table('answer_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_cards_topic'), ['topic'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=False),
    sa.Column('source_file', sa.String(length=400), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('case_number', sa.String(length=60), nullable=True),
    sa.Column('collection', sa.String(length=120), nullable=False),
    sa.Column('court', sa.String(length=400), nullable=False),
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('date_kind', sa.String(length=60), nullable=False),
    sa.Column('topic', sa.String(length=20), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('holding', sa.Text(), nullable=False),
    sa.Column('front_matter', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug'),
    sa.UniqueConstraint('source_file')
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_topic'), ['topic'], unique=False)

    op.create_table('laws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_file', sa.String(length=400), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('short_name', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=300), nullable=False),
    sa.Column('doc_type', sa.String(length=40), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('region', sa.String(length=40), nullable=False),
    sa.Column('locality', sa.String(length=40), nullable=True),
    sa.Column('adopted', sa.Date(), nullable=True),
    sa.Column('promulgated', sa.Date(), nullable=True),
    sa.Column('effective', sa.Date(), nullable=True),
    sa.Column('effective_basis', sa.String(length=120), nullable=False),
    sa.Column('superseded_on', sa.Date(), nullable=True),
    sa.Column('repealed', sa.Date(), nullable=True),
    sa.Column('preamble', sa.Text(), nullable=False),
    sa.Column('front_matter', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_file')
    )
    with op.batch_alter_table('laws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_laws_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_laws_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_laws_short_name'), ['short_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_laws_title'), ['title'], unique=False)

    op.create_table('articles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('law_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('suffix', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=30), nullable=False),
    sa.Column('path', sa.JSON(), nullable=False),
    sa.Column('paragraphs', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['law_id'], ['laws.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('law_id', 'number', 'suffix', name='uq_article_number')
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_articles_label'), ['label'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_law_id'), ['law_id'], unique=False)

    op.create_table('card_citations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('law_title', sa.String(length=300), nullable=False),
    sa.Column('article_label', sa.String(length=30), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['answer_cards.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('card_citations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_citations_card_id'), ['card_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('card_citations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_citations_card_id'))

    op.drop_table('card_citations')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_articles_law_id'))
        batch_op.drop_index(batch_op.f('ix_articles_label'))

    op.drop_table('articles')
    with op.batch_alter_table('laws', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_laws_title'))
        batch_op.drop_index(batch_op.f('ix_laws_short_name'))
        batch_op.drop_index(batch_op.f('ix_laws_region'))
        batch_op.drop_index(batch_op.f('ix_laws_level'))

    op.drop_table('laws')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_topic'))

    op.drop_table('cases')
    with op.batch_alter_table('answer_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_cards_topic'))

    op.drop_table('answer_cards')

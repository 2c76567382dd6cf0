"""Alembic environment: runs against the engine handed over by ``bot.db.upgrade_schema``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from bot.db import MIGRATION_LOCK_KEY
from bot.models import BotBase
from channels.storage import CHANNEL_METADATA
from corpus.models import CorpusBase
from handoff.models import HandoffBase

# Each package owns its tables; Alembic sees them together.
target_metadata = [CorpusBase.metadata, BotBase.metadata, CHANNEL_METADATA, HandoffBase.metadata]

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand: LAWLINE_DATABASE_URL is the only source
    from bot.settings import load_settings

    engine = create_engine(load_settings().database_url)

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":  # nodes starting together: one migrates, the others wait for it
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from bot.db import schema_is_current, upgrade_schema
from bot.models import BotBase
from channels.storage import CHANNEL_METADATA
from corpus.models import CorpusBase


def test_upgrade_creates_the_schema_and_is_idempotent(engine):
    assert schema_is_current(engine)
    upgrade_schema(engine)  # second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"laws", "articles", "cases", "answer_cards", "card_citations", "conversations", "messages", "channel_kv",
            "alembic_version"} <= tables


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        combined = MetaData()
        for metadata in (CorpusBase.metadata, BotBase.metadata, CHANNEL_METADATA):
            for table in metadata.tables.values():
                table.to_metadata(combined)
        diff = compare_metadata(MigrationContext.configure(connection), combined)
    assert diff == []

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text

from bot.conversation import sender_id
from bot.db import make_engine, schema_is_current, upgrade_schema
from bot.models import BotBase
from channels.storage import CHANNEL_METADATA
from corpus.models import CorpusBase
from handoff.models import HandoffBase


def test_upgrade_creates_the_schema_and_is_idempotent(engine):
    assert schema_is_current(engine)
    upgrade_schema(engine)  # second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"laws", "articles", "cases", "answer_cards", "card_citations", "conversations", "messages", "channel_kv",
            "handoff_tickets", "handoff_ticket_events", "handoff_outbox", "alembic_version"} <= tables


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        combined = MetaData()
        for metadata in (CorpusBase.metadata, BotBase.metadata, CHANNEL_METADATA, HandoffBase.metadata):
            for table in metadata.tables.values():
                table.to_metadata(combined)
        diff = compare_metadata(MigrationContext.configure(connection), combined)
    assert diff == []


def test_0007_gives_existing_conversations_their_rasa_pseudonym(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine, "0006")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO conversations (key, channel) VALUES ('union:o6_abc', 'web')"))
        upgrade_schema(engine)
        with engine.connect() as connection:
            sender = connection.execute(text("SELECT sender FROM conversations WHERE key = 'union:o6_abc'")).scalar()
        assert sender == sender_id("union:o6_abc")
    finally:
        engine.dispose()


def test_0012_moves_a_pending_safety_check_beside_the_pending_question(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine, "0011")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO handoff_residents (conversation_key, sent_since_inbound, pending, pending_data, "
                "pending_until, updated_at) VALUES "
                "('web:checked', 0, 'safety_check', '{\"kinds\": [\"self_harm\"]}', '2031-01-02 03:04:05+00', "
                "'2031-01-01 03:04:05+00'), "
                "('web:village', 0, 'ask_village', '{\"tries\": 1}', '2031-01-02 03:04:05+00', "
                "'2031-01-01 03:04:05+00')"))
        upgrade_schema(engine)
        with engine.connect() as connection:
            rows = {r.conversation_key: r for r in connection.execute(text(
                "SELECT conversation_key, pending, safety_check_until, safety_check_kinds FROM handoff_residents"))}
        checked, village = rows["web:checked"], rows["web:village"]
        assert checked.pending is None and checked.safety_check_until is not None
        assert "self_harm" in str(checked.safety_check_kinds)
        assert village.pending == "ask_village" and village.safety_check_until is None
    finally:
        engine.dispose()


def test_nodes_starting_together_on_an_empty_database_all_upgrade_it(database_url, tmp_path):
    """Three nodes started at once each run `lawline db upgrade`; they wait for one another, none fails."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    lawline = Path(sys.executable).with_name("lawline")
    env = {**os.environ, "LAWLINE_DATABASE_URL": database_url, "LAWLINE_VAR_DIR": str(tmp_path)}
    nodes = [subprocess.Popen([str(lawline), "db", "upgrade"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outputs = [node.communicate(timeout=120)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0, 0], outputs
    engine = make_engine(database_url)
    try:
        assert schema_is_current(engine)
    finally:
        engine.dispose()

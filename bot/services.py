"""Build the running services from the settings: database, retrieval, composer, Rasa client, channels."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from bot.answers import AnswerComposer, load_reply_texts
from bot.app import Services
from bot.conversation import ConversationService, DialogueEngine
from bot.db import make_engine, make_sessions, upgrade_schema
from bot.indexing import open_retriever
from bot.settings import Settings
from channels.background import BackgroundTasks
from channels.mini_program import MiniProgramConfig, mini_program_routes
from channels.official_account import OfficialAccountConfig, official_account_routes
from channels.storage import KeyValueStore, RedisStore, SqlStore
from channels.wechat_api import WeChatClient
from nlu.client import RasaClient
from nlu.errors import NluError

__all__ = ["build_services"]

log = logging.getLogger(__name__)


def build_services(settings: Settings, *, engine_client: DialogueEngine | None = None) -> Services:
    """Open everything the app needs; fails at start (with the reason) if the index or database is unusable."""
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    sessions = make_sessions(engine)
    retriever = open_retriever(settings.index_dir, settings.embedding_model)
    composer = AnswerComposer(retriever, load_reply_texts())
    rasa = RasaClient(settings.rasa_url, timeout=2.0, send_timeout=settings.engine_timeout)
    conversation = ConversationService(
        sessions, engine_client or rasa, composer, engine_timeout=settings.engine_timeout
    )
    store: KeyValueStore = RedisStore.from_url(settings.redis_url) if settings.redis_url else SqlStore(engine)
    http = httpx.AsyncClient(timeout=10.0)
    background = BackgroundTasks()
    routes = []
    if settings.wechat_appid and settings.wechat_appsecret and settings.wechat_token:
        client = WeChatClient(settings.wechat_appid, settings.wechat_appsecret, store,
                              api_base=settings.wechat_api_base, http=http)
        config = OfficialAccountConfig(token=settings.wechat_token, appid=settings.wechat_appid,
                                       aes_key=settings.wechat_aes_key)
        routes += official_account_routes(config, conversation=conversation, store=store, client=client,
                                          background=background)
    else:
        log.info("official account not configured (LAWLINE_WECHAT_*): /wechat is off")
    if settings.mp_appid and settings.mp_appsecret:
        mp_client = WeChatClient(settings.mp_appid, settings.mp_appsecret, store, api_base=settings.wechat_api_base,
                                 http=http)
        routes += mini_program_routes(MiniProgramConfig(), conversation=conversation, store=store, client=mp_client)
    else:
        log.info("mini-program not configured (LAWLINE_MP_*): /api/mp is off")

    async def health() -> dict[str, Any]:
        try:
            await rasa.status()
            rasa_up = True
        except NluError:
            rasa_up = False
        return {
            "status": "ok",
            "documents": len(retriever.documents),
            "embedding_model": retriever.index.manifest.model,
            "corpus_version": retriever.index.manifest.corpus_version,
            "dialogue_engine": "up" if rasa_up else "down (answering from retrieval)",
            "official_account": bool(settings.wechat_appid),
            "mini_program": bool(settings.mp_appid),
        }

    async def close() -> None:
        await background.aclose()
        await http.aclose()
        await rasa.aclose()
        if isinstance(store, RedisStore):
            await store.aclose()
        engine.dispose()

    return Services(composer=composer, conversation=conversation, extra_routes=routes, health=health, close=close)

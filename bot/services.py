"""Build the running services from the settings: database, retrieval, composer, Rasa client, channels."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bot.answers import AnswerComposer, load_reply_texts
from bot.app import Services
from bot.conversation import ConversationService, DialogueEngine
from bot.db import make_engine, make_sessions, upgrade_schema
from bot.eligibility.flow import Flow, load_flow
from bot.eligibility.rules import Rules, load_rules, rules_files, rules_folder
from bot.eligibility.service import EligibilityService
from bot.eligibility.web import eligibility_routes
from bot.handoff_adapters import (
    AdviserTemplates,
    ConversationTranscript,
    LegalAidPoints,
    WeChatMessenger,
    pre_application_hook,
)
from bot.indexing import open_retriever
from bot.metrics import metrics_routes, observe_answer
from bot.outbox import AnswerOutbox
from bot.places import Places
from bot.privacy import RetentionWorker, rasa_tracker
from bot.reloading import LiveFiles, Watched
from bot.resident_records import ResidentRecords
from bot.settings import Settings
from bot.web_chat import web_chat_routes
from channels.background import BackgroundTasks
from channels.inbox import Heartbeat, Inbox
from channels.mini_program import MiniProgramConfig, mini_program_routes
from channels.official_account import OfficialAccount, OfficialAccountConfig
from channels.storage import KeyValueStore, RedisStore, SqlStore
from channels.texts import MENU_LEGAL_AID, ChannelTexts
from channels.wechat_api import WeChatClient
from handoff import HandoffService, load_directory
from handoff.danger import Embed, Triage, ensure_model, example_files
from handoff.danger_tuned import TunedDanger
from handoff.directory import Directory
from handoff.signals import load_signals
from nlu.client import RasaClient
from nlu.errors import NluError
from retrieval.dense import encode
from retrieval.index import Manifest
from retrieval.retriever import Retriever

__all__ = ["build_services"]

log = logging.getLogger(__name__)
LEGAL_AID_PROMPT = "法律援助自测"  # the menu click 法律援助自测 starts the self-check, as if typed


def build_services(settings: Settings, *, engine_client: DialogueEngine | None = None) -> Services:
    """Open everything the app needs; fails at start (with the reason) if the index or database is unusable."""
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    sessions = make_sessions(engine)
    retriever = open_retriever(settings.index_dir, settings.embedding_model)
    composer = AnswerComposer(retriever, load_reply_texts())
    rasa = RasaClient(settings.rasa_url, timeout=2.0, send_timeout=settings.engine_timeout)
    http = httpx.AsyncClient(timeout=10.0)
    wechat_clients: dict[str, WeChatClient] = {}  # by channel, for a person's replies to residents
    embed = _embedder(composer)
    triage = load_triage(settings, embed)
    handoff = HandoffService(sessions, load_directory(settings.directory), http=http,
                             messenger=WeChatMessenger(wechat_clients), transcript=ConversationTranscript(sessions),
                             public_url=settings.public_url, wecom_api_base=settings.wecom_api_base,
                             notifier=AdviserTemplates(wechat_clients), triage=triage, signals=triage.signals)
    conversation = ConversationService(
        sessions, engine_client or rasa, composer, engine_timeout=settings.engine_timeout, handoff=handoff.desk,
        observe=observe_answer,
    )
    store: KeyValueStore = RedisStore.from_url(settings.redis_url) if settings.redis_url else SqlStore(engine)
    # PIPL retention (LAWLINE_RETENTION_DAYS): one worker a day anonymises what is older, counts kept.
    retention = RetentionWorker(sessions, store, days=settings.retention_days,
                                handoff_text=lambda: composer.texts.handoff, tracker=rasa_tracker(settings))
    # The legal-aid self-check (issue #4): rules from corpus/data/eligibility, records in the database; the
    # legal-aid centres come from the service directory and a sent pre-application becomes a ticket (#5).
    rules_dir = rules_folder(settings.corpus_dir)
    legal_aid_points = LegalAidPoints(handoff.directory)
    eligibility = EligibilityService.from_folder(rules_dir, sessions=sessions, public_url=settings.public_url,
                                                 directory=legal_aid_points, retention_days=settings.retention_days,
                                                 on_submit=pre_application_hook(handoff.tickets, sessions))
    places = Places(sessions, lambda: handoff.directory, composer.texts.where)  # 去哪里办事 (bot.places)
    live = LiveFiles(_watched(settings, composer, eligibility, rules_dir, handoff, legal_aid_points, embed),
                     interval=settings.reload_seconds)
    background = BackgroundTasks()
    routes = []
    channels: list[OfficialAccount] = []
    if settings.wechat_appid and settings.wechat_appsecret and settings.wechat_token:
        client = WeChatClient(settings.wechat_appid, settings.wechat_appsecret, store,
                              api_base=settings.wechat_api_base, http=http)
        config = OfficialAccountConfig(token=settings.wechat_token, appid=settings.wechat_appid,
                                       aes_key=settings.wechat_aes_key,
                                       passive_reply_seconds=settings.passive_reply_seconds)
        # A message is recorded before it is worked on (channels.inbox); the answer's parts go out through
        # the handoff's delivery worker, like a person's replies (bot.outbox).
        official = OfficialAccount(config, conversation=conversation, store=store, client=client,
                                   outbox=AnswerOutbox(sessions, handoff.deliveries.wake, clock=handoff.desk.clock),
                                   inbox=Inbox(engine, Heartbeat(store)), background=background,
                                   texts=ChannelTexts(menu_prompts={MENU_LEGAL_AID: LEGAL_AID_PROMPT}))
        routes += official.routes()
        channels.append(official)
        wechat_clients["official_account"] = client
    else:
        log.info("official account not configured (LAWLINE_WECHAT_*): /wechat is off")
    if settings.mp_appid and settings.mp_appsecret:
        mp_client = WeChatClient(settings.mp_appid, settings.mp_appsecret, store, api_base=settings.wechat_api_base,
                                 http=http)
        routes += mini_program_routes(MiniProgramConfig(), conversation=conversation, store=store, client=mp_client,
                                      records=ResidentRecords(handoff))  # what its pages show, issue #17
        wechat_clients["mini_program"] = mp_client
    else:
        log.info("mini-program not configured (LAWLINE_MP_*): /api/mp is off")
    # The knowledge editors' console (/console) and the web chat's 👍/👎 (/api/chat/feedback), issue #6.
    from bot.console import build_console
    from bot.console.advisers import adviser_routes

    cases = adviser_routes(handoff, eligibility)  # eligibility: a pre-application's matter and decision in words
    routes += build_console(settings, sessions, composer, rasa, extra_routes=cases,
                            directory=lambda: handoff.directory).routes
    routes += eligibility_routes(eligibility)  # the pre-application page, /eligibility/<token>
    routes += metrics_routes(sessions, settings.metrics_token, settings.trusted_proxies)  # Prometheus
    routes += web_chat_routes(sessions, handoff.desk.clock)  # the web chat's history and a person's replies, live

    async def health() -> dict[str, Any]:
        try:
            await rasa.status()
            rasa_up = True
        except NluError:
            rasa_up = False
        return {
            "status": "ok",
            "documents": len(composer.retriever.documents),  # the console may swap in a re-built index
            "embedding_model": composer.retriever.index.manifest.model,
            "corpus_version": composer.retriever.index.manifest.corpus_version,
            "dialogue_engine": "up" if rasa_up else "down (answering from retrieval)",
            "danger_model": {"threshold": handoff.desk.triage.model.threshold,
                             "fingerprint": handoff.desk.triage.model.fingerprint,
                             "tuned": handoff.desk.triage.model.tuned}
            if handoff.desk.triage.model is not None else None,
            "official_account": bool(settings.wechat_appid),
            "mini_program": bool(settings.mp_appid),
        }

    handoff.start()  # its workers run on the app's loop (build_services is called in the lifespan)
    for channel in channels:
        channel.start()
    live.start()
    retention.start()

    async def close() -> None:
        await retention.aclose()
        await live.aclose()
        for channel in channels:
            await channel.aclose()
        await handoff.aclose()
        await background.aclose()
        await http.aclose()
        await rasa.aclose()
        if isinstance(store, RedisStore):
            await store.aclose()
        engine.dispose()

    return Services(composer=composer, conversation=conversation, extra_routes=routes, health=health, close=close,
                    eligibility=eligibility, places=places, store=store, trusted_proxies=settings.trusted_proxies)


def _embedder(composer: AnswerComposer) -> Embed:
    """The retrieval encoder as the danger model's ``Embed`` (whatever index the composer answers from now)."""
    def embed(texts: list[str]) -> np.ndarray:
        return encode(composer.retriever.encoder, texts)

    return embed


def load_triage(settings: Settings, embed: Embed, tuned: TunedDanger | None = None) -> Triage:
    """Patterns and the danger model (trained now when the examples, the encoder or the tuned model changed).

    ``tuned`` saves a second load of the fine-tuned encoder when the caller has it already.
    """
    if tuned is None and settings.danger_tuned is not None:
        tuned = load_tuned(settings.danger_tuned)
    model = ensure_model(settings.danger_model, embed, settings.embedding_model, folder=settings.danger_dir / "danger",
                         tuned=tuned)
    return Triage(load_signals(settings.danger_dir / "signals.yaml"), model, embed, tuned)


def load_tuned(folder: Path) -> TunedDanger:
    """The fine-tuned danger encoder saved in ``folder`` (LAWLINE_DANGER_TUNED) over e5-small; missing: an error."""
    if not (folder / "manifest.json").is_file():
        raise FileNotFoundError(f"LAWLINE_DANGER_TUNED: no tuned danger model in {folder} (run `lawline danger tune`, "
                                "or set LAWLINE_DANGER_TUNED=off)")
    return TunedDanger.load(folder, _e5_network())


@functools.cache
def _e5_network() -> Any:
    """e5-small, once per process: frozen and only read, so every triage (and a reload) shares it (~2 s, 150 MB)."""
    from retrieval.e5 import load_e5

    return load_e5()


def _watched(settings: Settings, composer: AnswerComposer, eligibility: EligibilityService, rules_dir: Path,
             handoff: HandoffService, legal_aid_points: LegalAidPoints, embed: Embed) -> list[Watched]:
    """What editors publish from the console, kept current in every worker (bot.reloading)."""
    index_dir = settings.index_dir

    def use_directory(directory: Directory) -> None:
        handoff.use_directory(directory)
        legal_aid_points.directory = directory

    def load_index() -> Retriever:
        current = composer.retriever
        try:  # the worker that published already answers from this index: do not load it twice
            manifest = Manifest.from_json(json.loads((index_dir / "manifest.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            manifest = None  # open_retriever says what is wrong
        if manifest is not None and manifest == current.index.manifest:
            return current
        return open_retriever(index_dir, settings.embedding_model, current.encoder)

    def load_eligibility() -> tuple[Rules, Flow]:
        rules = load_rules(rules_dir)
        return rules, load_flow(rules)

    return [
        # The folder itself is in the signature: the console swaps it whole (a new inode).
        Watched("retrieval index", lambda: [index_dir, index_dir / "manifest.json"], load_index,
                composer.use_retriever),
        Watched("eligibility rules", lambda: rules_files(rules_dir), load_eligibility,
                lambda loaded: eligibility.use_rules(*loaded)),
        Watched("service directory", lambda: [settings.directory], lambda: load_directory(settings.directory),
                use_directory),
        Watched("danger patterns and examples",
                lambda: [settings.danger_dir / "signals.yaml", *example_files(settings.danger_dir / "danger")],
                lambda: load_triage(settings, embed, handoff.desk.triage.tuned), handoff.use_triage),
    ]

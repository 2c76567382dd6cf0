"""Publish an approved draft: all of it or none of it, then re-index only what changed.

Steps (each reported to ``progress`` as a stage, so the page can show where it is)::

    prepare   build the new file text and parse it with the importer's parser (cards: check citations)
    stage     apply it to the database in a transaction that is rolled back, to learn the new documents
    index     build the new index from the old one: only new or changed documents are encoded
              (RetrievalIndex.build(previous=…)), saved to a staging folder beside the live one
    commit    one transaction: save to the corpus tables + mark the draft published + audit; inside it,
              replace the corpus file and swap the index folder; then commit. Any error before the commit
              puts the old file and the old index back and rolls the transaction back.
    reload    the running app answers from the new index (``on_retriever``)

The confidence calibration is carried over from the previous index (one changed document barely moves
it); ``lawline index build`` refits it. Publishing is serialised by a lock: one at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.console.auth import Account, audit, utcnow
from bot.console.corpus_files import (
    card_yaml,
    corpus_file,
    parse_card_text,
    parse_statute_text,
    replace_article,
    set_law_dates,
)
from bot.console.datafiles import DataFileError, DataSet, validate_data_file
from bot.console.models import CorpusDraft
from bot.indexing import analyzer_info, corpus_documents, fusion_for
from corpus.cards import ParsedCard
from corpus.errors import CitationError, CorpusError
from corpus.repository import CorpusRepository
from corpus.statutes import ParsedStatute
from retrieval.dense import Encoder
from retrieval.index import IndexError_, RetrievalIndex
from retrieval.retriever import Retriever
from retrieval.text import LegalAnalyzer, load_analyzer

__all__ = ["PublishError", "PublishJob", "Publisher"]

log = logging.getLogger(__name__)

STAGES = {"queued": "排队中", "prepare": "检查新内容", "stage": "计算变化", "index": "更新索引",
          "commit": "写入数据库和文件", "reload": "启用新索引", "done": "已发布", "failed": "发布失败"}


class PublishError(Exception):
    """Publishing stopped; nothing was published. The message is Chinese, for the page."""


@dataclass
class PublishJob:
    """Where a publish is: stage, documents encoded so far of how many, the outcome."""

    draft_id: int
    stage: str = "queued"
    done: int = 0
    total: int = 0
    error: str = ""
    changed: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"draft": self.draft_id, "stage": self.stage, "stage_name": STAGES.get(self.stage, self.stage),
                "done": self.done, "total": self.total, "error": self.error, "changed": self.changed[:50],
                "stats": self.stats, "finished": self.finished}


Progress = Callable[[str], None]


def _check_citations(repo: CorpusRepository, card: ParsedCard) -> None:
    for citation in card.citations:
        if repo.find_article(citation.law, citation.article) is None:
            raise CitationError(f"引用的{citation.law}{citation.article}不是知识库里现行有效的条文", None,
                                citation.line)


class Publisher:
    """Publishes drafts into the corpus files, the database and the index (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], corpus_dir: Path, index_dir: Path, model_id: str,
                 encoder: Callable[[], Encoder], *, analyzer: LegalAnalyzer | None = None, batch_size: int = 64,
                 on_retriever: Callable[[Retriever], None] | None = None,
                 data_sets: dict[str, DataSet] | None = None) -> None:
        self.sessions = sessions
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir
        self.model_id = model_id
        self._encoder = encoder
        self._analyzer = analyzer
        self.batch_size = batch_size
        self.on_retriever = on_retriever
        self.data_sets = data_sets or {}
        self.jobs: dict[int, PublishJob] = {}
        self._lock = threading.Lock()

    # ---- entry points -----------------------------------------------------------------------
    def start(self, draft_id: int, reviewer: Account, *, on_stage: Progress | None = None) -> PublishJob:
        """Publish in a background thread; the job object reports progress."""
        job = PublishJob(draft_id)
        self.jobs[draft_id] = job
        thread = threading.Thread(target=self.publish, args=(job, reviewer), kwargs={"on_stage": on_stage},
                                  name=f"publish-{draft_id}", daemon=True)
        thread.start()
        return job

    def publish(self, job: PublishJob, reviewer: Account, *, on_stage: Progress | None = None) -> PublishJob:
        """Publish the draft (status ``publishing``) now; on any failure nothing is published."""
        def stage(name: str) -> None:
            job.stage = name
            if on_stage is not None:
                on_stage(name)

        with self._lock:
            try:
                self._publish(job, reviewer, stage)
                job.stage = "done"
            except Exception as exc:  # every failure ends the same way: nothing published, reason shown
                expected = isinstance(exc, PublishError | CorpusError)
                job.error = str(exc) if expected else f"内部错误（{type(exc).__name__}）"
                if not expected:
                    log.exception("publishing draft %s failed", job.draft_id)
                job.stage = "failed"
                self._mark_failed(job.draft_id, reviewer, job.error)
            finally:
                job.finished = True
        return job

    def recover(self) -> int:
        """At start: drafts left ``publishing`` by a stopped process were never committed → ``failed``."""
        with self.sessions.begin() as session:
            rows = session.query(CorpusDraft).filter(CorpusDraft.status == "publishing").all()
            for draft in rows:
                draft.status, draft.error = "failed", "发布过程中服务停止了，没有发布任何内容；可以重新发布。"
            return len(rows)

    # ---- the steps --------------------------------------------------------------------------
    def _publish(self, job: PublishJob, reviewer: Account, stage: Progress) -> None:
        stage("prepare")
        with self.sessions() as session:
            draft = session.get(CorpusDraft, job.draft_id)
            if draft is not None and draft.kind == "data_file":
                return self._publish_data_file(job, reviewer, stage)
        with self.sessions() as session:
            draft = session.get(CorpusDraft, job.draft_id)
            if draft is None or draft.status != "publishing":
                raise PublishError("这份草稿不在待发布状态。")
            kind, payload, before = draft.kind, dict(draft.payload), draft.before
            path = corpus_file(self.corpus_dir, payload["source_file"])
            old_bytes = path.read_bytes() if path.is_file() else None
            if draft.kind != "statute_file" and old_bytes is None:
                raise PublishError(f"知识库文件 {payload['source_file']} 不见了。")
            if path.exists() and not path.is_file():
                raise PublishError(f"{payload['source_file']} 不是一个文件。")
            new_text = self._new_text(session, draft, old_bytes)
        key = payload["source_file"]
        parsed = self._parse(kind, new_text, key)

        stage("stage")
        session = self.sessions()
        try:  # a dry run: the transaction is always rolled back
            self._check_base(session, kind, payload, before)
            self._save(CorpusRepository(session), parsed, key)
            documents, version = corpus_documents(session)
        finally:
            session.rollback()
            session.close()
        previous = self._previous_index()
        known = previous.manifest.ids
        todo = [d for d in documents if known.get(d.id, (0, ""))[1] != d.fingerprint]
        old_ids = {d.id: d for d in previous.documents}
        job.changed = [d.id for d in todo] + [d.id for d in documents if d.id in old_ids and d != old_ids[d.id]
                                              and d not in todo]
        job.total, job.done = len(todo), 0

        stage("index")

        def advance(n: int) -> None:
            job.done += n

        index, stats = RetrievalIndex.build(documents, self._encoder(), self.model_id, self.analyzer,
                                            analyzer_info(), version, previous=previous,
                                            batch_size=self.batch_size, progress=advance)
        index.manifest.calibration = dict(previous.manifest.calibration)
        job.stats = {"documents": stats.documents, "encoded": stats.encoded, "removed": stats.removed,
                     "reused": stats.reused, "seconds": round(stats.seconds, 1)}
        staging = self.index_dir.with_name(f".{self.index_dir.name}.publish-{job.draft_id}")
        shutil.rmtree(staging, ignore_errors=True)
        index.save(staging)
        try:
            stage("commit")
            self._commit(job, reviewer, kind, payload, before, parsed, key, path, new_text, old_bytes, staging,
                         version, stage)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        stage("reload")
        if self.on_retriever is not None:
            self.on_retriever(Retriever(index, self._encoder(), self.analyzer, fusion_for(self.model_id)))

    def _publish_data_file(self, job: PublishJob, reviewer: Account, stage: Progress) -> None:
        """An eligibility-rules or directory file: check with its loader, then file + draft in one step."""
        with self.sessions() as session:
            draft = session.get(CorpusDraft, job.draft_id)
            if draft is None or draft.status != "publishing":
                raise PublishError("这份草稿不在待发布状态。")
            payload, text, before = dict(draft.payload), draft.after, draft.before
        data_set = self.data_sets.get(str(payload.get("set")))
        if data_set is None:
            raise PublishError("这类数据文件在本机不能编辑。")
        path = data_set.path(str(payload["path"]))
        old_bytes = path.read_bytes()
        if old_bytes.decode("utf-8") != before:
            raise PublishError("文件在起草之后已经被改过了，没有发布；请在最新文本上重新起草。")
        try:
            validate_data_file(data_set, str(payload["path"]), text)
        except DataFileError as exc:
            raise PublishError(f"检查没有通过：{exc}") from None
        stage("commit")
        written = False
        try:
            with self.sessions.begin() as session:
                row = session.get(CorpusDraft, job.draft_id, with_for_update=True)
                if row is None or row.status != "publishing":
                    raise PublishError("这份草稿已经不在待发布状态。")
                row.status, row.published_at, row.updated_at, row.error = "published", utcnow(), utcnow(), ""
                audit(session, reviewer, "draft.publish", f"draft:{row.id}", {"kind": row.kind, "target": row.target})
                session.flush()
                stage("commit:database")
                _write_atomically(path, text)
                written = True
                stage("commit:file")
        except BaseException:
            if written:
                _write_atomically(path, old_bytes.decode("utf-8"))
            raise
        job.stats = {"data_file": True}  # every worker loads it within LAWLINE_RELOAD_SECONDS (bot.reloading)

    def _commit(self, job: PublishJob, reviewer: Account, kind: str, payload: dict[str, Any], before: str,
                parsed: ParsedStatute | ParsedCard, key: str, path: Path, new_text: str,
                old_bytes: bytes | None, staging: Path, version: str, stage: Progress) -> None:
        backup = self.index_dir.with_name(f".{self.index_dir.name}.before-{job.draft_id}")
        file_written = index_swapped = False
        try:
            with self.sessions.begin() as session:
                draft = session.get(CorpusDraft, job.draft_id, with_for_update=True)
                if draft is None or draft.status != "publishing":
                    raise PublishError("这份草稿已经不在待发布状态。")
                repo = CorpusRepository(session)
                self._check_base(session, kind, payload, before)
                self._save(repo, parsed, key)
                if repo.corpus_version() != version:
                    raise PublishError("发布过程中知识库被别人改动了，没有发布；请重新发布。")
                draft.status, draft.published_at, draft.updated_at = "published", utcnow(), utcnow()
                draft.error = ""
                audit(session, reviewer, "draft.publish", f"draft:{draft.id}",
                      {"kind": kind, "target": draft.target, "encoded": job.stats.get("encoded")})
                session.flush()
                stage("commit:database")
                _write_atomically(path, new_text)
                file_written = True
                stage("commit:file")
                shutil.rmtree(backup, ignore_errors=True)
                os.replace(self.index_dir, backup)
                os.replace(staging, self.index_dir)
                index_swapped = True
                stage("commit:index")
            # committed
        except BaseException:
            if index_swapped:
                shutil.rmtree(self.index_dir, ignore_errors=True)
            if index_swapped or (backup.exists() and not self.index_dir.exists()):
                os.replace(backup, self.index_dir)
            if file_written:
                if old_bytes is None:
                    path.unlink(missing_ok=True)
                else:
                    _write_atomically(path, old_bytes.decode("utf-8"))
            raise
        shutil.rmtree(backup, ignore_errors=True)

    def _new_text(self, session: Session, draft: CorpusDraft, old_bytes: bytes | None) -> str:
        payload = draft.payload
        old = old_bytes.decode("utf-8-sig") if old_bytes is not None else ""
        if draft.kind == "article":
            return replace_article(old, str(payload["label"]), draft.after)
        if draft.kind == "law_dates":
            effective = dt.date.fromisoformat(payload["effective"]) if payload.get("effective") else None
            repealed = dt.date.fromisoformat(payload["repealed"]) if payload.get("repealed") else None
            return set_law_dates(old, effective, repealed)
        if draft.kind == "card":
            card = dict(payload["card"])
            current = CorpusRepository(session).card(str(payload["slug"]))
            card["version"] = (current.version if current is not None else int(card.get("version", 1))) + 1
            if not card.get("not_for") and current is not None:  # a draft written before cards had a scope
                card["not_for"] = list(current.not_for or [])
            card["updated"] = dt.date.today()
            card["reviewed"] = True  # a reviewer signed it off by publishing it
            return card_yaml(card)
        if draft.kind == "statute_file":
            return draft.after if draft.after.endswith("\n") else draft.after + "\n"
        raise PublishError(f"未知的草稿类型 {draft.kind}")

    @staticmethod
    def _parse(kind: str, text: str, key: str) -> ParsedStatute | ParsedCard:
        if kind == "card":
            return parse_card_text(text, key)
        return parse_statute_text(text, key)

    @staticmethod
    def _check_base(session: Session, kind: str, payload: dict[str, Any], before: str) -> None:
        """Refuse to publish over a change made since the draft was written (someone else's edit)."""
        repo = CorpusRepository(session)
        if kind == "article":
            from corpus.models import Article, Law

            article = session.query(Article).join(Law).filter(
                Law.source_file == payload["source_file"], Article.label == payload["label"]).one_or_none()
            if article is None or article.text != before:
                raise PublishError("这一条在起草之后已经被改过了，没有发布；请在最新文本上重新起草。")
        elif kind == "card":
            card = repo.card(str(payload["slug"]))
            if card is None:
                raise PublishError("这张卡片已经不在知识库里了。")
        elif kind == "law_dates":
            from corpus.models import Law

            if session.query(Law).filter(Law.source_file == payload["source_file"]).one_or_none() is None:
                raise PublishError("这部法规已经不在知识库里了。")

    @staticmethod
    def _save(repo: CorpusRepository, parsed: ParsedStatute | ParsedCard, key: str) -> None:
        if isinstance(parsed, ParsedCard):
            _check_citations(repo, parsed)
            repo.save_card(parsed, key)
        else:
            repo.save_statute(parsed, key)

    def _previous_index(self) -> RetrievalIndex:
        try:
            previous = RetrievalIndex.load(self.index_dir)
        except IndexError_ as exc:
            raise PublishError(f"检索索引不可用（{exc}）；请先运行 lawline index build。") from None
        if previous.manifest.model != self.model_id:
            raise PublishError("检索索引是用另一个向量模型建的；请先运行 lawline index build。")
        return previous

    @property
    def analyzer(self) -> LegalAnalyzer:
        if self._analyzer is None:
            self._analyzer = load_analyzer()
        return self._analyzer

    def _mark_failed(self, draft_id: int, reviewer: Account, error: str) -> None:
        try:
            with self.sessions.begin() as session:
                draft = session.get(CorpusDraft, draft_id)
                if draft is not None and draft.status == "publishing":
                    draft.status, draft.error, draft.updated_at = "failed", error[:2000], utcnow()
                    audit(session, reviewer, "draft.publish_failed", f"draft:{draft_id}", {"error": error[:300]})
        except Exception:
            log.exception("could not record the failure of draft %s", draft_id)


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the file (a hidden temp name the importer skips), then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.publishing")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)

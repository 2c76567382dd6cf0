"""Compose a resident's answer from an answer card or quoted articles, with citations. Nothing generated.

Every sentence comes from an answer card (written and versioned by the team), from a statute article
quoted verbatim with its citation, or from ``bot/data/replies.yaml`` (curated text around them). When the
top hit's calibrated confidence is below the threshold the composer says it is not sure and offers a
person instead of guessing.

The first message fits an old phone (``SHORT_LIMIT`` characters): the plain answer, the first step and
the names of the articles, then "回复 1 看法条原文 / 2 怎么办 / 3 去哪里办" (``details``). A follow-up
that leans on the last answer ("这个要多久", "那他不认账呢") is answered in its context (``follow_up``):
a curated aspect (cost, duration, the other side refuses, a judgment ignored, no written proof, too late)
for the topic, with its articles, or else retrieval on the two questions together.

A question that cites an article (``劳动合同法第三十条``, or ``第三十八条`` after an answer citing that law) gets
that article quoted first, never a card in its place; a cited law that was repealed is said to be, with its
successor (``retrieval/citations.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.card_scope import CardScope
from retrieval.documents import Document, Filters, Hit
from retrieval.retriever import Retriever

__all__ = ["DETAIL_BUTTONS", "DETAIL_PARTS", "SHORT_LIMIT", "Answer", "AnswerComposer", "Aspect", "ReplyTexts",
           "load_reply_texts"]

REPLIES_FILE = Path(__file__).resolve().parent / "data" / "replies.yaml"
TOPICS = ("wages", "support", "land", "dispute")
_MAX_QUOTE_CHARS = 260
SHORT_LIMIT = 600  # characters of the first message: about two screens of an old phone
DETAIL_PARTS = ("law", "steps", "where")  # what 1 / 2 / 3 bring after a short answer
# What typing 1 / 2 / 3 after a short answer means: the conversation service maps a typed number or title to
# the payload of the last reply's buttons; they travel in the message's custom part, so that no channel
# renders them a second time under the menu line the answer already has.
DETAIL_BUTTONS = [{"title": title, "payload": f'/details{{"part": "{part}"}}'}
                  for title, part in zip(("看法条原文", "怎么办", "去哪里办"), DETAIL_PARTS, strict=True)]
_FIRST_QUOTE_CHARS = 120
# A short message that leans on what was said before ("那…", "要是…", "…呢", "这个…", "也…", "这样…").
_LEANING = re.compile(r"^(那|要是|如果|万一|还有|那要|这个|这样|他要|她要|对方要|可是|但是)|呢|^还|也|这样|这种")
FOLLOW_UP_CHARS = 24
# A short question with no subject of its own ("那得赔多少", "要几天能办好", "走啥程序") also leans on the answer.
_ASKING = re.compile(r"吗|呢|咋|怎么|怎样|如何|多少|几|啥|什么|哪些|能不能|行不行|可不可以|要不要|是不是|[？?]")
SHORT_QUESTION_CHARS = 18
# A question up to this long that names no trouble the question before did not ("离婚要走什么手续，去哪办"
# after a divorce answer) is asked in that question's context too (``is_follow_up`` with ``previous``).
SAME_SUBJECT_CHARS = 32
# Requests of their own, never follow-ups: the legal-aid check, a person, the hotline, where to go, greetings.
_REQUESTS = ("法律援助", "援助", "人工", "律师", "法律顾问", "12348", "热线", "你好", "谢谢", "再见", "自测", "继续",
             "去哪里办事", "办事地点", "办事的地方", "司法所")
# Several problems in one message: clauses split at punctuation and "而且 / 另外 …"; a clause that finds a
# card of its own (or, with no card, an article) this surely is one problem. Clauses are short, so their
# scores are lower than a whole question's; measured on the team's own examples in tests/bot/test_answers.py.
_CLAUSES = re.compile(r"[，,。；;！!？?\n]+|(?:而且|另外|并且|同时|还有|再就是)")
SEVERAL_CARD = 0.25
SEVERAL_ARTICLE = 0.35
MAX_PROBLEMS = 3


@dataclass(frozen=True, slots=True)
class Aspect:
    """What residents ask after an answer (cost, duration …): cues, and a curated text with articles per topic."""

    name: str
    cues: tuple[str, ...]
    topics: dict[str, tuple[str, tuple[str, ...]]]  # topic or "general" → (text, citations)

    def for_topic(self, topic: str | None) -> tuple[str, tuple[str, ...]]:
        return self.topics.get(topic or "", self.topics["general"])


@dataclass(frozen=True, slots=True)
class ReplyTexts:
    """The curated sentences around an answer (``bot/data/replies.yaml``)."""

    disclaimer: str
    follow_ups: tuple[str, ...]
    unsure: str
    degraded_note: str
    empty_message: str
    engine_busy_in_step: str
    quote_intro: str
    topics: dict[str, dict[str, tuple[str, ...]]]
    handoff: str
    short: dict[str, str] = field(default_factory=dict)
    aspects: tuple[Aspect, ...] = ()
    problem_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)  # where to go: the directory's service points
    laws: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # a law's own steps, over the topic's

    def guide(self, topic: str | None, citations: Sequence[str] = ()) -> dict[str, tuple[str, ...]]:
        """What to do and where to go for articles without a card: the first cited law's own, else the topic's.

        A social-insurance or work-injury article is answered under the wages topic; its steps are not wages'.
        """
        for citation in citations:
            law = self.laws.get(_law_of(citation))
            if law is not None:
                return law
        return self.topics.get(topic or "", self.topics["general"])


def _law_of(citation: str) -> str:
    """The law's title of "《工伤保险条例》第十七条" (or of "工伤保险条例 第十七条")."""
    found = re.match(r"《([^》]+)》", citation)
    return found.group(1) if found else citation.split(" ", 1)[0]


def load_reply_texts(path: Path = REPLIES_FILE) -> ReplyTexts:
    """Read the reply texts; a missing key fails at start with its name."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        topics = {
            name: {key: tuple(values) for key, values in entry.items()} for name, entry in data["topics"].items()
        }
        return ReplyTexts(
            disclaimer=data["disclaimer"].strip(),
            follow_ups=tuple(data["follow_ups"]),
            unsure=data["unsure"].strip(),
            degraded_note=data["degraded_note"].strip(),
            empty_message=data["empty_message"].strip(),
            engine_busy_in_step=data["engine_busy_in_step"].strip(),
            quote_intro=data["quote_intro"].strip(),
            topics=topics,
            handoff=data["handoff"].strip(),
            short={key: str(value).strip() for key, value in data["short"].items()},
            aspects=tuple(_aspect(name, entry) for name, entry in data["aspects"].items()),
            problem_words={kind: tuple(words) for kind, words in data["problem_words"].items()},
            where={key: str(value) for key, value in data["where"].items()},
            laws={law: {key: tuple(values) for key, values in entry.items()}
                  for law, entry in (data.get("laws") or {}).items()},
        )
    except KeyError as exc:
        raise ValueError(f"{path}: missing key {exc.args[0]!r}") from None


def _aspect(name: str, entry: dict[str, Any]) -> Aspect:
    topics = {}
    for topic, value in entry["topics"].items():
        cites = tuple(_citation(c) for c in value["cites"])
        topics[topic] = (str(value["text"]).strip(), cites)
    if "general" not in topics:
        raise KeyError(f"aspects.{name}.topics.general")
    return Aspect(name, tuple(entry["cues"]), topics)


def _citation(text: str) -> str:
    """``中华人民共和国民事诉讼法 第一百二十一条`` as replies print it: ``《…》第一百二十一条``."""
    law, _, article = str(text).strip().rpartition(" ")
    return f"《{law}》{article}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the resident reads, and what the bot relied on (for transcripts, tickets and analytics)."""

    text: str
    confident: bool
    confidence: float
    citations: tuple[str, ...] = ()
    card: str | None = None
    topic: str | None = None
    hits: tuple[str, ...] = field(default=())  # document ids, best first
    details: bool = False  # 1 / 2 / 3 bring the articles, the steps and the places
    kind: str = "answer"  # answer | follow_up | repeat | details | several
    options: tuple[tuple[str, str], ...] = ()  # (title, question) offered by number: several problems


def _quote(doc: Document) -> str:
    text = doc.text if len(doc.text) <= _MAX_QUOTE_CHARS else doc.text[:_MAX_QUOTE_CHARS].rstrip() + "……"
    return f"{doc.citation}：“{text}”"


def _numbered(lines: tuple[str, ...] | list[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


class AnswerComposer:
    """Turns a question into an ``Answer`` using the retriever and the curated texts."""

    def __init__(self, retriever: Retriever, texts: ReplyTexts, *, min_confidence: float = 0.2) -> None:
        self.retriever = retriever
        self.texts = texts
        self.min_confidence = min_confidence
        self._by_citation = {d.citation: d for d in retriever.documents if d.kind == "article"}
        self._check_aspects()
        self._scope = CardScope(retriever.documents, retriever.encoder, retriever.analyzer)

    def _check_aspects(self) -> None:
        """Every article an aspect names must be in the corpus (as a card's must): fail at start, not in a reply."""
        missing = [f"{aspect.name}: {cite}" for aspect in self.texts.aspects for _, cites in aspect.topics.values()
                   for cite in cites if cite not in self._by_citation]
        if missing:
            raise ValueError("replies.yaml aspects cite articles not in the corpus: " + "; ".join(missing))

    def card_question(self, card: str) -> str | None:
        """The question an answer card answers (its title), by the card's id as ``Answer.card`` gives it."""
        for doc in self.retriever.documents:
            if doc.kind == "card" and doc.id == f"card:{card}":
                return doc.title
        return None

    def use_retriever(self, retriever: Retriever) -> None:
        """Answer from ``retriever`` from now on (the console swaps in the index it re-built on publishing)."""
        self._by_citation = {d.citation: d for d in retriever.documents if d.kind == "article"}
        self.retriever = retriever
        self._check_aspects()
        self._scope = CardScope(retriever.documents, retriever.encoder, retriever.analyzer, previous=self._scope)

    def answer(self, question: str, *, topic: str | None = None, region: str | None = None,
               context: Sequence[str] = ()) -> Answer:
        """Answer ``question``; ``topic`` (from the NLU) prefers cards of that topic.

        ``context``: the last answer's citations, the law of an article cited alone ("第三十八条呢").
        """
        question = question.strip()
        if not question:
            return Answer(self.texts.empty_message, confident=False, confidence=0.0)
        filters = Filters(region=region)
        hits = self.retriever.search(question, k=8, filters=filters, context=context)
        notes = [n for r in self.retriever.citations.resolve(question, context=context, filters=filters)
                 if (n := r.notice())]
        if not hits or hits[0].confidence < self.min_confidence:
            top = hits[0].confidence if hits else 0.0
            return Answer("\n\n".join([*notes, self.texts.unsure]), confident=False, confidence=top,
                          hits=tuple(h.document.id for h in hits))
        card = None if hits[0].cited else self._pick_card(question, hits, topic)
        if card is not None:
            return self._card_answer(card, hits, topic, notes)
        return self._article_answer(hits, topic, notes)

    def cites(self, text: str, context: Sequence[str] = ()) -> bool:
        """``text`` asks about a particular article (found, repealed or not in the law): a question of its own."""
        return any(r.status in ("found", "repealed", "no_such_article")
                   for r in self.retriever.citations.resolve(text, context=context))

    def _pick_card(self, question: str, hits: list[Hit], topic: str | None) -> Hit | None:
        """The first card among the top 3 hits, of the topic, if its scope holds the question (bot/card_scope.py).

        None sends the question to the quoted articles: a wrong card is a wrong answer said confidently.
        """
        for hit in hits[:3]:
            if hit.document.kind == "card" and (topic is None or hit.document.topic == topic):
                return hit if self._scope.admits(question, hit.document.id.removeprefix("card:"), topic) else None
        return None

    # -- the first message ------------------------------------------------------------------------------
    def _short(self, head: list[str], first_step: str | None, cites: tuple[str, ...]) -> str:
        """The first message: what ``head`` says, the first step, the articles' names and the menu."""
        short = self.texts.short
        parts = [*head]
        if first_step:
            parts.append(short["first_step"] + first_step)
        if cites:
            parts.append("法律依据：" + "、".join(cites))
        parts += [self.texts.disclaimer, short["menu"]]
        text = "\n\n".join(p for p in parts if p)
        if len(text) > SHORT_LIMIT:  # a long card answer: keep its first sentences
            over = len(text) - SHORT_LIMIT
            body = head[-1]
            cut = body[: max(40, len(body) - over - 1)]
            cut = cut[: cut.rfind("。") + 1] or cut + "……"
            text = "\n\n".join(p for p in [*head[:-1], cut, *parts[len(head):]] if p)
        return text

    def _card_answer(self, hit: Hit, hits: list[Hit], topic: str | None, notes: Sequence[str] = ()) -> Answer:
        doc = hit.document
        steps = tuple(doc.extra.get("next_steps", ()))
        text = self._short([*notes, f"【{doc.title}】", str(doc.extra.get("answer", "")).strip()],
                           steps[0] if steps else None, doc.cites)
        return Answer(
            text, confident=True, confidence=hit.confidence, citations=doc.cites, card=doc.id.removeprefix("card:"),
            topic=doc.topic or topic, hits=tuple(h.document.id for h in hits), details=True,
        )

    def _article_answer(self, hits: list[Hit], topic: str | None, notes: Sequence[str] = ()) -> Answer:
        articles = [h for h in hits if h.document.kind == "article"][:2]
        if not articles:
            return Answer(self.texts.unsure, confident=False, confidence=hits[0].confidence,
                          hits=tuple(h.document.id for h in hits))
        citations = tuple(h.citation for h in articles)
        guide = self.texts.guide(topic, citations)
        top = articles[0].document
        head = top.text if len(top.text) <= _FIRST_QUOTE_CHARS else top.text[:_FIRST_QUOTE_CHARS].rstrip() + "……"
        text = self._short([*notes, f"{self.texts.quote_intro}\n{top.citation}：“{head}”"], guide["next_steps"][0],
                           citations)
        return Answer(
            text, confident=True, confidence=articles[0].confidence, citations=citations, topic=topic,
            hits=tuple(h.document.id for h in hits), details=True,
        )

    # -- 1 / 2 / 3 after a short answer ---------------------------------------------------------------
    def details(self, part: str, *, card: str | None, citations: tuple[str, ...], topic: str | None) -> str:
        """The articles in full (``law``), every step (``steps``) or the places (``where``) of the last answer."""
        doc = self._card(card) if card else None
        if part == "law":
            quoted = [self._by_citation[c] for c in (doc.cites if doc else citations) if c in self._by_citation]
            if not quoted:
                return self.texts.short["no_answer_yet"]
            return self.texts.quote_intro + "\n" + "\n\n".join(_quote(d) for d in quoted[:3])
        guide = self.texts.guide(topic, citations)
        if part == "steps":
            steps = tuple(doc.extra.get("next_steps", ())) if doc else guide["next_steps"]
            if not doc and not citations:
                return self.texts.short["no_answer_yet"]
            return "怎么办：\n" + _numbered(steps) + "\n\n" + "\n".join(self.texts.follow_ups)
        places = tuple(doc.extra.get("where_to_go", ())) if doc else guide["where_to_go"]
        if not doc and not citations:
            return self.texts.short["no_answer_yet"]
        return "去哪里：\n" + "\n".join(f"· {place}" for place in places) + "\n· 12348 公共法律服务热线（7×24小时）"

    def _card(self, card: str) -> Document | None:
        for doc in self.retriever.documents:
            if doc.kind == "card" and doc.id == f"card:{card}":
                return doc
        return None

    # -- follow-ups and repeats --------------------------------------------------------------------------
    def aspect_of(self, text: str) -> Aspect | None:
        """The aspect a follow-up asks about, by its cues (the first aspect whose cue appears)."""
        for aspect in self.texts.aspects:
            if any(cue in text for cue in aspect.cues):
                return aspect
        return None

    def is_follow_up(self, text: str, previous: str | None = None) -> bool:
        """A short message that leans on the answer before it rather than asking something new.

        With ``previous`` (the question last answered), also a question that names no kind of trouble
        (``problem_words``) the previous one did not: it has no new subject, so it asks about the same one.
        A message that names two kinds of trouble the previous question did not is never one: it brings
        problems of its own (``several``), however it leans.
        """
        text = text.strip()
        if any(word in text for word in _REQUESTS):
            return False
        if len(self.troubles(text) - self.troubles(previous or "")) >= 2:
            return False
        if len(text) <= FOLLOW_UP_CHARS and any(c.law is None and not c.named
                                                for c in self.retriever.citations.parse(text)):
            return True  # "第三十八条": an article of the law the last answer cited
        if len(text) <= SHORT_QUESTION_CHARS and _ASKING.search(text):
            return True
        if self.leans(text):
            return True
        return (previous is not None and len(text) <= SAME_SUBJECT_CHARS and bool(_ASKING.search(text))
                and self.troubles(text) <= self.troubles(previous))

    def leans(self, text: str) -> bool:
        """A short message with a word that leans on what came before (那/要是/呢…) or a follow-up aspect."""
        text = text.strip()
        return (len(text) <= FOLLOW_UP_CHARS and not any(word in text for word in _REQUESTS)
                and (bool(_LEANING.search(text)) or self.aspect_of(text) is not None))

    @staticmethod
    def asks(text: str) -> bool:
        """``text`` is a question (a question word or mark), not a request of its own."""
        return bool(_ASKING.search(text)) and not any(word in text for word in _REQUESTS)

    def troubles(self, text: str) -> set[str]:
        """The kinds of trouble ``text`` names (``problem_words`` of ``bot/data/replies.yaml``)."""
        return {kind for kind, words in self.texts.problem_words.items() if any(w in text for w in words)}

    def follow_up(self, text: str, previous: str, *, topic: str | None, context: Sequence[str] = ()) -> Answer:
        """Answer ``text`` in the context of ``previous`` (the question the last answer was for).

        ``kind`` is ``answer`` when ``text`` turned out to be a new question of another topic, or cites an
        article ("那第三十八条呢": of the law in ``context``, the last answer's citations).
        """
        if self.cites(text, context):
            return self.answer(text, topic=topic, context=context)
        intro = self.texts.short["follow_up_intro"].format(question=_clip(previous, 24))
        aspect = self.aspect_of(text)
        if aspect is not None:
            said, cites = aspect.for_topic(topic)
            quoted = self._by_citation[cites[0]]
            body = self._short([intro + said], None, cites)
            return Answer(body, confident=True, confidence=1.0, citations=cites, topic=topic, details=True,
                          hits=(quoted.id,), kind="follow_up")
        alone = self.answer(text)
        if alone.confident and alone.topic is not None and topic is not None and alone.topic != topic:
            return alone  # a new subject ("那孩子归谁" after a wages answer): a question of its own
        # It names its trouble ("离婚要走啥手续" after a divorce answer): its own words find the answer; else it
        # leans on the question before ("那他每月得出多少"), and both together do.
        answer = alone if alone.confident and self.troubles(text) else self.answer(f"{previous} {text}", topic=topic)
        if not answer.confident:
            return answer
        return Answer(intro + "\n" + answer.text, confident=True, confidence=answer.confidence,
                      citations=answer.citations, card=answer.card, topic=answer.topic, hits=answer.hits,
                      details=answer.details, kind="follow_up")

    def several(self, question: str, *, topic: str | None = None) -> Answer | None:
        """Two or three problems in one message, each with its own card: one line each, by number; else None."""
        clauses = [c.strip() for c in _CLAUSES.split(question) if len(c.strip()) >= 4]
        if len(clauses) < 2:
            return None
        found: dict[str, tuple[Hit, str]] = {}
        kinds_named: set[str] = set()
        for clause in clauses:
            kinds = self.troubles(clause)
            if not kinds - kinds_named:
                continue  # the same trouble told again, or no trouble named: not a problem of its own
            kinds_named |= kinds
            hits = self.retriever.search(clause, k=8)
            card = next((h for h in hits[:3] if h.document.kind == "card" and h.confidence >= SEVERAL_CARD), None)
            best = card or next((h for h in hits[:1] if h.document.kind == "article"
                                 and h.confidence >= SEVERAL_ARTICLE), None)
            if best is not None and best.document.id not in found:
                found[best.document.id] = (best, clause)
        if len(found) < 2:
            return None
        problems = list(found.values())[:MAX_PROBLEMS]
        lines = [self.texts.short["several_intro"].format(count=len(problems))]
        options = []
        cites: list[str] = []
        for number, (hit, clause) in enumerate(problems, 1):
            doc = hit.document
            if doc.kind == "card":
                first = str(doc.extra.get("answer", "")).strip().split("。")[0] + "。"
                lines.append(f"{number}. 【{doc.title}】{first}（法律依据：{'、'.join(doc.cites[:2])}）")
                options.append((doc.title, doc.title))
                cites += doc.cites[:2]
            else:  # no card: the article's first sentence, quoted
                first = doc.text.split("。")[0] + "。"
                lines.append(f"{number}. {clause}：{doc.citation}规定，“{first}”")
                options.append((clause, clause))
                cites.append(doc.citation)
        lines.append(self.texts.short["several_menu"].format(numbers="、".join(str(n) for n in
                                                                              range(1, len(problems) + 1))))
        return Answer("\n\n".join(lines), confident=True, confidence=min(h.confidence for h, _ in problems),
                      citations=tuple(dict.fromkeys(cites)), topic=problems[0][0].document.topic or topic,
                      kind="several", hits=tuple(h.document.id for h, _ in problems), options=tuple(options))

    def repeat(self, answer: Answer) -> Answer:
        """The same card (or, asked in the same words, the same articles) again: say so briefly.

        The details or a person are offered instead of resending it.
        """
        doc = self._card(answer.card) if answer.card else None
        title = doc.title if doc else (answer.citations[0] if answer.citations else "")
        text = self.texts.short["repeat"].format(title=title, menu=self.texts.short["menu"])
        return Answer(text, confident=True, confidence=answer.confidence, citations=answer.citations,
                      card=answer.card, topic=answer.topic, hits=answer.hits, details=True, kind="repeat")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "……"

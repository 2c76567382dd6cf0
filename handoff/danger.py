"""Danger triage: the curated patterns, and a classifier trained on the team's examples.

Residents in danger rarely use the words a pattern was written for ("他今天又动手了", "想找根绳子"), so the
patterns in ``signals.yaml`` (fast, explainable, edited by staff) are joined by a classifier trained on
thousands of team-written messages in ``handoff/data/danger/`` — danger of every kind, and as many ordinary
messages that use the same words (打工, 杀鸡, 想死你们了). A message is danger (an alarm: the emergency
reply and an urgent ticket) when a pattern fires or the classifier's score reaches its alarm threshold, the
level at which 3 % of ordinary examples in held-out folds of the training data would alarm. Below it, down to
the level that keeps 99 % recall on those folds, the model is unsure: the desk then asks whether the resident
is safe before the answer (a false urgent ticket costs a person's minute, a missed one can cost a life).

The classifier (logistic regression) reads character 1-4-grams (typos, dialect, words jieba would split),
jieba words and word pairs, and, when the app's sentence encoder is given, its embedding (meaning beyond
the words). Ordinary examples are also trained on sentence by sentence (a part of an ordinary message is
ordinary too). Scoring each sentence of a long message and keeping the highest was measured and not kept:
on held-out folds it raised false alarms by half for no recall (docs/BENCHMARKS.md). The kind (who to
call) comes from the pattern that fired, else from a second classifier over the danger examples.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handoff.danger_tuned import TunedDanger, combine, text_key
from handoff.errors import DirectoryError
from handoff.signals import DANGER_KINDS, Signal, SignalDetector

__all__ = ["EXAMPLES_DIR", "DangerAssessment", "DangerModel", "Example", "Triage", "example_files",
           "ensure_model", "fold_of", "load_examples", "model_is_current", "segments", "train_model",
           "training_rows"]

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "data" / "danger"
FEATURES_VERSION = 3  # bump when the features change: a saved model of another version is retrained
TARGET_RECALL = 0.99  # on held-out folds of the training examples: below the check-in threshold nothing is said
ALARM_FALSE_ALARMS = 0.03  # at most this share of ordinary held-out examples reach the alarm threshold
MAX_TEXT = 2000
CHECK_MIN_CHARS = 6  # "找到了", "好的": too short for the model to be unsure about; only an alarm can fire
_MEANINGFUL = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_SENTENCE_END = re.compile(r"[。！？!?；;\n…]+|[，,]\s*(?=[^，,]{6,})")
_WINDOW = 40  # characters per window of a long message without punctuation (voice typing)

Embed = Callable[[list[str]], np.ndarray]
"""The app's sentence encoder: texts in, one L2-normalised row per text out."""


@dataclass(frozen=True, slots=True)
class Example:
    """One team-written message: ``danger`` and, for danger, its ``kind``; ``where`` is ``file:line``."""

    text: str
    danger: bool
    kind: str | None
    where: str


def example_files(folder: Path = EXAMPLES_DIR) -> list[Path]:
    """The example files of ``folder`` (every ``*.jsonl``), in a stable order."""
    return sorted(folder.glob("*.jsonl"))


def load_examples(folder: Path = EXAMPLES_DIR) -> list[Example]:
    """Read every example; ``DirectoryError`` lists each malformed line as ``file:line: reason``."""
    examples: list[Example] = []
    problems: list[str] = []
    for path in example_files(folder):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {type(exc).__name__}")
            continue
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            parsed, problem = _parse_line(line)
            if problem:
                problems.append(f"{where}: {problem}")
            elif parsed is not None:
                examples.append(Example(parsed[0], parsed[1], parsed[2], where))
    if problems:
        raise DirectoryError(problems)
    return examples


def _parse_line(line: str) -> tuple[tuple[str, bool, str | None] | None, str | None]:
    try:
        data = json.loads(line)
    except ValueError:
        return None, "not a JSON object"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    unknown = set(data) - {"text", "danger", "kind", "note"}
    if unknown:
        return None, f"unknown field(s): {', '.join(sorted(unknown))}"
    text, danger, kind = data.get("text"), data.get("danger"), data.get("kind")
    if not isinstance(text, str) or not text.strip():
        return None, "text must be a non-empty string"
    if len(text) > MAX_TEXT:
        return None, f"text longer than {MAX_TEXT} characters"
    if not isinstance(danger, bool):
        return None, "danger must be true or false"
    if danger and kind not in DANGER_KINDS:
        return None, f"kind must be one of {', '.join(DANGER_KINDS)}"
    if not danger and kind is not None:
        return None, "an ordinary message has no kind"
    return (text.strip(), danger, kind if danger else None), None


def segments(text: str) -> list[str]:
    """The whole message, then its sentences (or windows of a long unpunctuated one), without repeats."""
    compact = re.sub(r"\s+", " ", text).strip()[:MAX_TEXT]
    parts = [p.strip() for p in _SENTENCE_END.split(compact) if len(p.strip()) >= 4]
    if len(compact) > _WINDOW and len(parts) <= 1:
        step = _WINDOW // 2
        parts = [compact[i:i + _WINDOW] for i in range(0, len(compact) - step, step)]
    pieces = [compact] + (parts if len(parts) > 1 or (parts and parts[0] != compact) else [])
    return list(dict.fromkeys(p for p in pieces if p))


def fingerprint(examples: Sequence[Example], embed_name: str | None, tuned: str | None = None) -> str:
    """What a trained model was made from: the examples, the encoder, the tuned model and the feature version."""
    digest = hashlib.sha256(f"v{FEATURES_VERSION}|{embed_name or '-'}|{tuned or '-'}".encode())
    for example in sorted(examples, key=lambda e: (e.text, e.danger, e.kind or "")):
        digest.update(f"\n{example.danger}|{example.kind}|{example.text}".encode())
    return digest.hexdigest()[:24]


@dataclass
class DangerModel:
    """The trained classifier: ``score`` is the probability of danger, ``threshold`` the alarm level."""

    vectorizer: Any  # sklearn TfidfVectorizer over characters
    binary: Any  # sklearn LogisticRegression: danger or not
    kinds: Any  # sklearn LogisticRegression over the danger kinds
    threshold: float
    fingerprint: str
    embed_name: str | None
    report: dict[str, Any] = field(default_factory=dict)  # cross-validated recall and false alarms
    check_threshold: float = 0.5  # from here up to ``threshold``: answer, but ask first whether they are safe
    tuned: str | None = None  # the fingerprint of the tuned model whose scores it combines (None: its own only)

    def _features(self, texts: list[str], embed: Embed | None) -> Any:
        from scipy.sparse import csr_matrix, hstack

        grams = self.vectorizer.transform(texts)
        if self.embed_name is None:
            return grams
        if embed is None:
            raise RuntimeError(f"the danger model was trained with the encoder {self.embed_name!r}; none given")
        return hstack([grams, csr_matrix(embed(texts))]).tocsr()

    def scores(self, texts: list[str], embed: Embed | None) -> list[tuple[float, str]]:
        """For each text, the probability of danger (and the text as it was scored)."""
        cleaned = [_clean(t) for t in texts]
        probabilities = self.binary.predict_proba(self._features(cleaned, embed))[:, 1]
        return [(float(p), t) for p, t in zip(probabilities, cleaned, strict=True)]

    def kind_of(self, text: str, embed: Embed | None) -> list[tuple[str, float]]:
        """The danger kinds, most likely first, with their probabilities."""
        return self._ranked(self._features([_clean(text)], embed))

    def predict(self, text: str, embed: Embed | None,
                tuned: TunedDanger | None = None) -> tuple[float, list[tuple[str, float]]]:
        """The score of danger and the ranked kinds of one message, its features computed once.

        A model trained with a tuned model's scores combines the two (``combine``); its thresholds are for that.
        """
        features = self._features([_clean(text)], embed)
        score = float(self.binary.predict_proba(features)[0, 1])
        if self.tuned is not None:
            if tuned is None or tuned.fingerprint != self.tuned:
                raise RuntimeError(f"the danger model was trained with the tuned model {self.tuned!r}; not given")
            score = combine(score, float(tuned.scores([_clean(text)])[0]))
        return score, self._ranked(features)

    def _ranked(self, features: Any) -> list[tuple[str, float]]:
        probabilities = self.kinds.predict_proba(features)[0]
        order = np.argsort(-probabilities)
        return [(str(self.kinds.classes_[i]), float(probabilities[i])) for i in order]

    def save(self, path: Path) -> None:
        """Write the model and, beside it, a readable manifest (what it was trained from, how it measured)."""
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        joblib.dump(self, temporary)
        temporary.replace(path)
        manifest = {"fingerprint": self.fingerprint, "embed_name": self.embed_name, "tuned": self.tuned,
                    "threshold": self.threshold, "check_threshold": self.check_threshold,
                    "features_version": FEATURES_VERSION, **self.report}
        path.with_suffix(".json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")

    @staticmethod
    def load(path: Path) -> DangerModel:
        """Read a model this project saved (``var/`` is the app's own folder: the pickle is trusted)."""
        import joblib

        model = joblib.load(path)
        if not isinstance(model, DangerModel):
            raise ValueError(f"{path} does not hold a danger model")
        return model


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:MAX_TEXT]


@functools.lru_cache(maxsize=100_000)
def _words(text: str) -> tuple[str, ...]:
    import jieba

    return tuple(w for w in jieba.lcut(text) if w.strip())


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), min_df=2, sublinear_tf=True, max_features=300000)
    words = TfidfVectorizer(analyzer=_word_grams, min_df=2, sublinear_tf=True, max_features=200000)
    return FeatureUnion([("chars", chars), ("words", words)])


def _word_grams(text: str) -> list[str]:
    """Jieba words and word pairs (a module function, so a saved model pickles)."""
    words = _words(text)
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]


def _classifier(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000)


def training_rows(examples: Sequence[Example]) -> tuple[list[str], list[int]]:
    """Each example, plus the sentences of ordinary ones (a part of an ordinary message is ordinary too)."""
    texts, labels = [], []
    for example in examples:
        texts.append(example.text)
        labels.append(int(example.danger))
        if not example.danger:
            for piece in segments(example.text)[1:]:
                texts.append(piece)
                labels.append(0)
    return texts, labels


def _fit(examples: Sequence[Example], embed: Embed | None, embed_name: str | None, c: float,
         cache: dict[str, np.ndarray], *, with_kinds: bool = True) -> DangerModel:
    from scipy.sparse import csr_matrix, hstack

    texts, labels = training_rows(examples)
    vectorizer = _vectorizer().fit(texts)

    def cached(batch: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(batch) if t not in cache]
        if missing and embed is not None:
            for t, row in zip(missing, embed(missing), strict=True):
                cache[t] = row
        return np.vstack([cache[t] for t in batch])

    def features(batch: list[str]) -> Any:
        grams = vectorizer.transform(batch)
        return grams if embed is None else hstack([grams, csr_matrix(cached(batch))]).tocsr()

    binary = _classifier(c).fit(features(texts), labels)
    danger = [e for e in examples if e.danger]
    kind_labels = [e.kind for e in danger]
    if not with_kinds:  # a cross-validation fold measures the alarm only (the kinds are measured by the bench)
        kinds = None
    elif len(set(kind_labels)) > 1:
        kinds = _classifier(c).fit(features([e.text for e in danger]), kind_labels)
    else:  # one kind only (a small test set): it is always that kind
        from sklearn.dummy import DummyClassifier

        kinds = DummyClassifier(strategy="most_frequent").fit(features([e.text for e in danger]), kind_labels)
    return DangerModel(vectorizer, binary, kinds, 0.5, "", embed_name if embed is not None else None, {}, 0.5)


def fold_of(count: int, folds: int = 5, seed: int = 20261201) -> np.ndarray:
    """Which held-out fold each of ``count`` examples is in (the same split for every model trained on them)."""
    order = np.random.default_rng(seed).permutation(count)
    fold = np.empty(count, dtype=int)
    fold[order] = np.arange(count) % folds
    return fold


def train_model(examples: Sequence[Example], embed: Embed | None = None, *, embed_name: str | None = None,
                c: float = 4.0, folds: int = 5, seed: int = 20261201, tuned: TunedDanger | None = None,
                progress: Callable[[str], None] | None = None) -> DangerModel:
    """Train on ``examples`` and choose the threshold for ``TARGET_RECALL`` on ``folds`` held-out folds.

    With ``embed`` the model also reads sentence embeddings; each distinct text is encoded once. With
    ``tuned`` its scores are combined with the model's own; on the folds, each example's tuned score is the
    one ``lawline danger tune`` saved from a tuned model that did not see it (its ``held_out``),
    else (an example added since) the tuned model's own.
    """
    if not any(e.danger for e in examples) or all(e.danger for e in examples):
        raise ValueError("the examples need both danger and ordinary messages")
    say = progress or (lambda _m: None)
    cache: dict[str, np.ndarray] = {}
    if embed is not None:
        say("encoding the examples")
        texts = list(dict.fromkeys(t for t in training_rows(examples)[0]))
        for start in range(0, len(texts), 512):
            batch = texts[start:start + 512]
            for t, row in zip(batch, embed(batch), strict=True):
                cache[t] = row
    fold = fold_of(len(examples), folds, seed)
    tuned_held = _tuned_held_out(examples, tuned)
    held_scores: list[float] = []
    held_labels: list[bool] = []

    def lookup(batch: list[str]) -> np.ndarray:
        missing = [t for t in batch if t not in cache]
        if missing and embed is not None:
            for t, row in zip(missing, embed(missing), strict=True):
                cache[t] = row
        return np.vstack([cache[t] for t in batch])

    runner = lookup if embed is not None else None
    for number in range(folds):
        say(f"fold {number + 1} of {folds}")
        train = [e for e, f in zip(examples, fold, strict=True) if f != number]
        held = [e for e, f in zip(examples, fold, strict=True) if f == number]
        model = _fit(train, embed, embed_name, c, cache, with_kinds=False)
        for example, (score, _piece) in zip(held, model.scores([e.text for e in held], runner), strict=True):
            held_scores.append(score if tuned is None else combine(score, tuned_held[example.text]))
            held_labels.append(example.danger)
    (threshold, check), report = _choose_threshold(np.array(held_scores), np.array(held_labels))
    report["examples"] = {"danger": int(sum(held_labels)), "ordinary": int(len(held_labels) - sum(held_labels))}
    say("training on every example")
    final = _fit(examples, embed, embed_name, c, cache)
    final.threshold, final.check_threshold = threshold, check
    final.tuned = tuned.fingerprint if tuned is not None else None
    final.fingerprint = fingerprint(examples, embed_name if embed is not None else None, final.tuned)
    final.report = report
    return final


def _tuned_held_out(examples: Sequence[Example], tuned: TunedDanger | None) -> dict[str, float]:
    """Each example's tuned score from a model that did not see it, where ``danger tune`` saved one."""
    if tuned is None:
        return {}
    saved = tuned.held_out
    scores = {e.text: saved[text_key(e.text)] for e in examples if text_key(e.text) in saved}
    unseen = [e.text for e in examples if e.text not in scores]
    if unseen:
        log.info("danger: %d examples are newer than the tuned model; its own scores stand in", len(unseen))
        scores.update(zip(unseen, (float(x) for x in tuned.scores(unseen)), strict=True))
    return scores


def _choose_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[tuple[float, float], dict[str, Any]]:
    """The alarm and check-in thresholds from held-out folds, with how each measured there.

    The check-in threshold is the highest whose recall is at least ``TARGET_RECALL``: below it, a message
    is left alone. The alarm threshold is the lowest whose false alarms are at most ``ALARM_FALSE_ALARMS``
    (never below the check-in one): from it up, the emergency reply and an urgent ticket.
    """
    danger = np.sort(scores[labels])
    index = int(np.floor((1 - TARGET_RECALL) * len(danger)))
    check = min(0.5, float(danger[index]) - 1e-6) if len(danger) else 0.5
    ordinary = np.sort(scores[~labels])[::-1]
    allowed = int(np.floor(ALARM_FALSE_ALARMS * len(ordinary)))
    alarm = float(ordinary[allowed]) + 1e-6 if len(ordinary) > allowed else check
    alarm = max(alarm, check)

    def rates(threshold: float) -> tuple[float, float]:
        flagged = scores >= threshold
        return (round(float(flagged[labels].mean()), 4) if labels.any() else 0.0,
                round(float(flagged[~labels].mean()), 4) if (~labels).any() else 0.0)

    alarm_recall, alarm_false = rates(alarm)
    check_recall, check_false = rates(check)
    return (round(alarm, 6), round(check, 6)), {
        "cv_alarm_recall": alarm_recall, "cv_false_alarm_rate": alarm_false, "cv_recall": check_recall,
        "cv_check_rate": check_false, "target_recall": TARGET_RECALL, "alarm_false_alarms": ALARM_FALSE_ALARMS}


@dataclass(frozen=True, slots=True)
class DangerAssessment:
    """What triage found in one message; ``kinds`` empty means no danger.

    ``rule`` names the pattern that fired (``kind#n``, the n-th pattern of that kind in ``signals.yaml``);
    ``score`` is the classifier's probability and ``threshold`` its alarm level (None without a model).
    """

    kinds: tuple[Signal, ...]
    rule: str | None = None
    score: float | None = None
    threshold: float | None = None
    segment: str | None = None
    check: bool = False  # below the alarm, above the check-in threshold: ask whether they are safe
    likely: tuple[str, ...] = ()  # the model's most likely kind, for a check the resident then confirms

    @property
    def danger(self) -> bool:
        return bool(self.kinds)

    def evidence(self) -> dict[str, Any]:
        """What fired, for the ticket's record (no message text)."""
        return {"kinds": [k.kind for k in self.kinds], "rule": self.rule,
                "score": None if self.score is None else round(self.score, 4),
                "threshold": None if self.threshold is None else round(self.threshold, 4),
                "by": "pattern" if self.rule else "model", "check": self.check}


class Triage:
    """The one danger check every message passes first: patterns, then the classifier."""

    def __init__(self, signals: SignalDetector, model: DangerModel | None = None, embed: Embed | None = None,
                 tuned: TunedDanger | None = None) -> None:
        self.signals = signals
        self.model = model
        self.embed = embed
        self.tuned = tuned
        if model is not None and model.embed_name is not None and embed is None:
            raise ValueError(f"the danger model needs the encoder {model.embed_name!r}")
        if model is not None and model.tuned is not None and (tuned is None or tuned.fingerprint != model.tuned):
            raise ValueError(f"the danger model needs the tuned model {model.tuned!r}")

    def assess(self, text: str) -> DangerAssessment:
        matched = self.signals.danger_rules(text)
        score: float | None = None
        ranked: list[tuple[str, float]] = []
        threshold = self.model.threshold if self.model is not None else None
        kept = self.signals.without_ignored(text)
        if self.model is not None and re.search(r"[\u4e00-\u9fffA-Za-z]", kept):
            score, ranked = self.model.predict(kept, self.embed, self.tuned)
        piece = _clean(kept) if score is not None else None
        if matched:
            kinds = _ordered(s for s, _ in matched)
            if self.model is not None and score is not None and score < self.model.check_threshold:
                # A pattern's words in a message the model, reading all of it, holds ordinary with 99 % recall
                # (a past fight, the news, a mediator asking, 要我的命): a safety check, not an alarm.
                return DangerAssessment((), matched[0][1], score, threshold, piece, True,
                                        tuple(k.kind for k in kinds[:1]))
            return DangerAssessment(kinds, matched[0][1], score, threshold, piece)
        if self.model is None or score is None or threshold is None or score < threshold:
            check = (self.model is not None and score is not None and score >= self.model.check_threshold
                     and len(_MEANINGFUL.findall(kept)) >= CHECK_MIN_CHARS)
            return DangerAssessment((), None, score, threshold, piece, check, tuple(k for k, _ in ranked[:1]))
        chosen = [kind for kind, p in ranked[:2] if p >= 0.3] or [ranked[0][0]]
        labels = self.signals.labels()
        return DangerAssessment(_ordered(Signal(k, labels.get(k, k)) for k in chosen), None, score, threshold,
                                piece)


def _ordered(found: Iterable[Signal]) -> tuple[Signal, ...]:
    unique = {s.kind: s for s in found}
    return tuple(unique[k] for k in DANGER_KINDS if k in unique)


def model_is_current(path: Path, examples: Sequence[Example], embed_name: str | None,
                     tuned: str | None = None) -> bool:
    """Whether the model saved at ``path`` was trained on exactly ``examples`` with this encoder and tuned model."""
    try:
        manifest = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return path.is_file() and manifest.get("fingerprint") == fingerprint(examples, embed_name, tuned)


def ensure_model(path: Path, embed: Embed | None, embed_name: str | None, *, folder: Path = EXAMPLES_DIR,
                 tuned: TunedDanger | None = None, progress: Callable[[str], None] | None = None) -> DangerModel:
    """The saved model when it matches the examples and the encoder; else train it now and save it.

    Malformed examples raise ``DirectoryError`` (``file:line: reason``): the app does not start on them.
    """
    import fcntl

    examples = load_examples(folder)
    name = embed_name if embed is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:  # several workers: one trains, the others wait and load
        fcntl.flock(lock, fcntl.LOCK_EX)
        if model_is_current(path, examples, name, tuned.fingerprint if tuned is not None else None):
            try:
                return DangerModel.load(path)
            except Exception as exc:  # noqa: BLE001 - an unreadable file is retrained, and said
                log.warning("danger model at %s does not load (%s); training again", path, type(exc).__name__)
        log.info("training the danger model on %d examples (%s)", len(examples), name or "character n-grams only")
        model = train_model(examples, embed, embed_name=name, tuned=tuned, progress=progress)
        model.save(path)
    log.info("danger model: threshold %.3f, cross-validated recall %s, false alarms %s", model.threshold,
             model.report.get("cv_recall"), model.report.get("cv_false_alarm_rate"))
    return model

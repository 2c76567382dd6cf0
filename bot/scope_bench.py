"""``lawline bench cards``: is a shown answer card the right one, and does an in-scope question get its card.

A question set is JSONL, one ``{"question", "card": id or null, "topic"?, "also"?: [ids]}`` a line:
``card`` is the card that answers it (null: none does, the articles should be quoted), ``also`` lists
cards that answer it as well, ``topic`` is what the NLU would say. Two sets, written apart:
``tests/data/cards/scope_dev.jsonl`` to choose ``bot.card_scope.ScopeRule`` on, and
``scope_test.jsonl``, scored once when the rule is chosen. The score is the only output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the CLI loads the composer (torch, FAISS) only when the command runs
    from bot.answers import AnswerComposer

__all__ = ["ScopeQuestion", "ScopeScore", "bench_cards", "load_scope_questions", "score_cards"]


@dataclass(frozen=True, slots=True)
class ScopeQuestion:
    """One line of a question set."""

    question: str
    card: str | None
    topic: str | None = None
    also: tuple[str, ...] = ()

    def right(self, card: str | None) -> bool:
        return card is not None and (card == self.card or card in self.also)


@dataclass
class ScopeScore:
    """Card precision (a shown card is a right one) and recall (an in-scope question gets its card)."""

    questions: int = 0
    in_scope: int = 0
    shown: int = 0
    right: int = 0
    found: int = 0
    wrong: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.right / self.shown if self.shown else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.in_scope if self.in_scope else 1.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "precision": round(self.precision, 3), "recall": round(self.recall, 3)}


def load_scope_questions(path: Path) -> list[ScopeQuestion]:
    """Read a question set; a malformed line fails with its number."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(ScopeQuestion(str(row["question"]), row["card"], row.get("topic"),
                                           tuple(row.get("also") or ())))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a scope question ({exc})") from None
    return questions


def score_cards(composer: AnswerComposer, questions: Sequence[ScopeQuestion], *, use_topic: bool = True) -> ScopeScore:
    """Answer every question as a resident's first message and count the cards shown."""
    score = ScopeScore()
    for q in questions:
        answer = composer.answer(q.question, topic=q.topic if use_topic else None)
        score.questions += 1
        score.in_scope += q.card is not None
        if answer.card is not None:
            score.shown += 1
            score.right += q.right(answer.card)
            if not q.right(answer.card):
                score.wrong.append({"question": q.question, "shown": answer.card, "card": q.card})
        if q.card is not None:
            score.found += q.right(answer.card)
            if not q.right(answer.card):
                score.missed.append({"question": q.question, "shown": answer.card, "card": q.card})
    return score


@click.command("cards")
@click.option("--questions", "questions_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL question set (tests/data/cards/scope_dev.jsonl).")
@click.option("--no-topic", is_flag=True, help="Answer without the NLU topic (any card may be picked).")
@click.option("--show", is_flag=True, help="List the wrong cards and the missed ones.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the score.")
def bench_cards(questions_file: Path, no_topic: bool, show: bool, as_json: bool) -> None:
    """Card precision and recall of the composer on the configured index (LAWLINE_INDEX_DIR)."""
    from bot.answers import AnswerComposer, load_reply_texts
    from bot.indexing import open_retriever
    from bot.settings import load_settings
    from retrieval.index import IndexError_

    settings = load_settings()
    try:
        questions = load_scope_questions(questions_file)
        retriever = open_retriever(settings.index_dir, settings.embedding_model)
    except (ValueError, IndexError_) as exc:
        raise click.ClickException(str(exc)) from exc
    score = score_cards(AnswerComposer(retriever, load_reply_texts()), questions, use_topic=not no_topic)
    if show:
        for row in score.wrong:
            click.echo(f"wrong  {row['question']} → {row['shown']} (want {row['card']})")
        for row in score.missed:
            click.echo(f"missed {row['question']} → {row['shown']} (want {row['card']})")
    click.echo(f"questions {score.questions} (in scope {score.in_scope})  cards shown {score.shown}  "
               f"precision {score.precision:.3f}  recall {score.recall:.3f}")
    if as_json:
        click.echo(json.dumps(score.to_json(), ensure_ascii=False))

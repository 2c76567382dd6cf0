"""e5 behind the encoder interface: prompts per side, the vector cache, and paired with USE."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from retrieval.dense import encode, encode_in_batches, load_encoder
from retrieval.documents import Document
from retrieval.e5_encoder import E5_MODEL_ID, build_e5_model
from retrieval.index import RetrievalIndex
from retrieval.paired import PairedEncoder, parse_pair
from retrieval.retriever import FusionConfig, Retriever
from retrieval.vector_cache import CachedEncoder, VectorStore, store_path, text_key

pytestmark = pytest.mark.slow

ARTICLE = "劳动合同法\n第三十条\n用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。"
QUESTION = "老板拖欠三个月工资不给怎么办"


@pytest.fixture(scope="module")
def e5_model(e5_network):
    return build_e5_model(e5_network)


def test_documents_get_the_passage_prefix_and_queries_the_query_prefix(e5_model, e5_network):
    documents = encode(e5_model, [ARTICLE, QUESTION], role="document")
    queries = encode(e5_model, [ARTICLE, QUESTION], role="query")
    assert documents.shape == (2, 384)
    np.testing.assert_allclose(documents, e5_network.encode([ARTICLE, QUESTION], prefix="passage: "), atol=1e-5)
    np.testing.assert_allclose(queries, e5_network.encode([ARTICLE, QUESTION]), atol=1e-5)
    assert float(documents[0] @ queries[0]) < 0.999  # the prefix changes the vector: the two sides differ
    assert float(queries[1] @ documents[0]) > float(queries[1] @ e5_network.encode(["今天天气很好"], prefix="passage: ")[0])


def test_the_danger_default_is_still_the_query_prefix(e5_network):
    ids, _ = e5_network.tokens([QUESTION])
    assert ids[0].tolist() == e5_network.tokenizer.encode("query: " + QUESTION)


def test_use_is_the_same_on_both_sides(use_encoder):
    texts = [ARTICLE, QUESTION]
    plain = use_encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_array_equal(encode(use_encoder, texts, role="document"), plain)
    np.testing.assert_array_equal(encode(use_encoder, texts, role="query"), plain)


def test_the_cache_encodes_only_a_changed_text(e5_model, tmp_path):
    texts = [ARTICLE, "民法典\n第一千零六十七条\n成年子女不履行赡养义务的，父母有要求成年子女给付赡养费的权利。", "第三段"]
    first = CachedEncoder(e5_model, "e5.test", folder=tmp_path)
    vectors = encode_in_batches(first, texts, 8)
    assert first.encoded == 3 and store_path(tmp_path, "e5.test").is_file()  # saved by encode_in_batches

    again = CachedEncoder(e5_model, "e5.test", folder=tmp_path)
    changed = [*texts[:2], "第三段，改过了"]
    revised = encode_in_batches(again, changed, 8)
    assert again.encoded == 1
    np.testing.assert_array_equal(revised[:2], vectors[:2])
    fresh = encode(e5_model, [changed[2]], role="document")[0]
    assert float(revised[2] @ fresh) > 0.999 and float(revised[2] @ vectors[2]) < 0.999

    other_model = CachedEncoder(e5_model, "e5.other", folder=tmp_path)
    encode_in_batches(other_model, texts[:1], 8)
    assert other_model.encoded == 1  # a vector is never taken from another model's store


def test_shipped_vectors_are_read_but_never_written(e5_model, tmp_path):
    shipped, local = tmp_path / "shipped", tmp_path / "local"
    VectorStore("e5.test", np.asarray([text_key(ARTICLE)], dtype="S16"),
                np.ones((1, 384), dtype=np.float16) / np.sqrt(384)).save(store_path(shipped, "e5.test"))
    encoder = CachedEncoder(e5_model, "e5.test", folder=local, shipped=[shipped])
    vectors = encode_in_batches(encoder, [ARTICLE, QUESTION], 8)
    assert encoder.encoded == 1
    np.testing.assert_allclose(vectors[0], np.ones(384) / np.sqrt(384), atol=1e-3)  # the shipped vector, not a new one
    assert len(VectorStore.load(store_path(local, "e5.test"), "e5.test")) == 1
    assert len(VectorStore.load(store_path(shipped, "e5.test"), "e5.test")) == 1


def test_an_index_rebuilt_from_scratch_takes_its_vectors_from_the_cache(e5_network, analyzer, tmp_path):
    docs = [Document(id=f"d{i}", kind="article", title="中华人民共和国劳动合同法", citation=f"第{i}条", text=text,
                     label=f"第{i}条", law="中华人民共和国劳动合同法", short_name="劳动合同法")
            for i, text in enumerate(["用人单位应当向劳动者及时足额支付劳动报酬。", "劳动者可以解除劳动合同。"])]
    first = load_encoder(E5_MODEL_ID, vector_cache=tmp_path, shipped=[], e5_network=e5_network)
    RetrievalIndex.build(docs, first, E5_MODEL_ID, analyzer, {}, "v1")
    assert first.encoded == 2
    second = load_encoder(E5_MODEL_ID, vector_cache=tmp_path, shipped=[], e5_network=e5_network)
    edited = [docs[0], dataclasses.replace(docs[1], text="劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。")]
    _, stats = RetrievalIndex.build(edited, second, E5_MODEL_ID, analyzer, {}, "v2")
    assert stats.encoded == 2 and second.encoded == 1  # no previous index, yet only the edited text is encoded


def test_a_pair_scores_the_weighted_mean_of_both_cosines(use_encoder, e5_model):
    pair = PairedEncoder(use_encoder, e5_model, 0.7)
    assert pair.get_embedding_dimension() == 512 + 384
    document = encode(pair, [ARTICLE], role="document")[0]
    query = encode(pair, [QUESTION])[0]
    assert abs(float(np.linalg.norm(document)) - 1.0) < 1e-5
    cos_use = float(encode(use_encoder, [QUESTION])[0] @ encode(use_encoder, [ARTICLE], role="document")[0])
    cos_e5 = float(encode(e5_model, [QUESTION])[0] @ encode(e5_model, [ARTICLE], role="document")[0])
    assert abs(float(query @ document) - (0.3 * cos_use + 0.7 * cos_e5)) < 1e-5


def test_pair_names():
    assert parse_pair("use-multilingual-v3", 0.5) is None
    assert parse_pair("use-multilingual-v3+multilingual-e5-small-q4", 0.5) == (
        "use-multilingual-v3", "multilingual-e5-small-q4", 0.5)
    assert parse_pair("a+b@0.8", 0.5) == ("a", "b", 0.8)
    with pytest.raises(ValueError, match="weight"):
        parse_pair("a+b@much", 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        parse_pair("a+b@1.5", 0.5)


def test_search_with_the_pair_follows_its_second_encoder(use_encoder, e5_network, analyzer, tmp_path):
    """Weight 1 on e5 must rank as e5 alone does, weight 0 as USE alone: the pair really fuses both."""
    docs = [Document(id=i, kind="article", title="法", citation=i, text=t, law="法", short_name="法")
            for i, t in (("wages", "用人单位应当向劳动者及时足额支付劳动报酬。"),
                         ("support", "成年子女有赡养扶助父母的义务。"),
                         ("land", "承包期内，发包方不得收回承包地。"))]
    fusion = FusionConfig(dense_weight=1.0, max_cards=-1)
    orders = {}
    for name in ("use-multilingual-v3", E5_MODEL_ID, f"use-multilingual-v3+{E5_MODEL_ID}@0",
                 f"use-multilingual-v3+{E5_MODEL_ID}@1"):
        encoder = load_encoder(name, vector_cache=tmp_path, shipped=[], e5_network=e5_network)
        index, _ = RetrievalIndex.build(docs, encoder, name, analyzer, {}, "v1")
        hits = Retriever(index, encoder, analyzer, fusion).search("老人的儿子不管他", k=3)
        orders[name] = [(h.document.id, round(h.dense_score, 3)) for h in hits]
    assert orders[f"use-multilingual-v3+{E5_MODEL_ID}@0"] == orders["use-multilingual-v3"]
    assert orders[f"use-multilingual-v3+{E5_MODEL_ID}@1"] == orders[E5_MODEL_ID]
    assert orders[E5_MODEL_ID] != orders["use-multilingual-v3"]


def test_a_key_ending_in_a_nul_byte_survives_a_save(tmp_path):
    """numpy strips trailing NULs from ``S16`` items; such a key must still be found after loading."""
    key = b"\x07" * 15 + b"\x00"
    path = store_path(tmp_path, "m")
    store = VectorStore("m")
    store.put([key], np.ones((1, 4), dtype=np.float32))
    store.save(path)
    loaded = VectorStore.load(path, "m")
    assert loaded.get(key) is not None
    assert len(VectorStore.load(path, "another model")) == 0


def test_each_encoder_gets_the_dense_weight_it_was_measured_with():
    from bot.indexing import DEFAULT_FUSION, fusion_for

    assert fusion_for("use-multilingual-v3") is DEFAULT_FUSION
    assert fusion_for(E5_MODEL_ID).dense_weight == 0.7
    assert fusion_for(f"use-multilingual-v3+{E5_MODEL_ID}@0.5").dense_weight == 0.8
    assert fusion_for(E5_MODEL_ID).level_weights == DEFAULT_FUSION.level_weights

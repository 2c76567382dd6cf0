"""The fine-tuned danger encoder: tuning moves it, saving keeps it, and triage combines it with the linear model.

Tiny sets written for these tests (one tuned layer, a few epochs) keep them to seconds; the shipped model's
quality is measured by ``lawline bench danger``, not here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from handoff.danger import Triage, load_examples, train_model
from handoff.danger_tuned import TunedConfig, TunedDanger, combine, text_key, tune
from handoff.signals import load_signals

DANGER = ["他又动手打我了，我躲在厕所", "那几个人拿着刀在门口等我", "我把药都攒好了，今晚就走", "工头把我们锁在工棚里不让出去",
          "孩子被他爸打得浑身是伤", "他说今晚要来烧了我家房子"]
ORDINARY = ["老板欠我三个月工资不给", "离婚以后孩子归谁抚养", "邻居家的树挡了我家的光", "借条丢了钱还能要回来吗",
            "村里要收回我家的承包地", "儿子不给老人赡养费怎么办"]
CONFIG = TunedConfig(split=11, rank=4, epochs=8, learning_rate=3e-3, batch=4)


@pytest.fixture(scope="module")
def network(e5_network):
    return e5_network


@pytest.fixture(scope="module")
def tuned(network):
    texts = DANGER + ORDINARY
    return tune(texts, [1] * len(DANGER) + [0] * len(ORDINARY), network, CONFIG)


def test_an_untuned_adapter_changes_nothing_and_tuning_separates_the_examples(network, tuned):
    fresh = TunedDanger(network, CONFIG)
    texts = DANGER + ORDINARY
    untuned = fresh.scores(texts)
    assert np.ptp(untuned) < 0.2  # only the random head: the layers are e5's own
    scores = tuned.scores(texts)
    assert scores[: len(DANGER)].min() > scores[len(DANGER):].max()


def test_saved_adapters_load_to_the_same_scores(network, tuned, tmp_path):
    tuned.fingerprint, tuned.held_out = "abc", {text_key("x"): 0.25}
    tuned.save(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["split"] == 11 and manifest["fingerprint"] == "abc"
    again = TunedDanger.load(tmp_path, network)
    texts = ["他又来砸门了", "工资的事找谁"]
    assert np.allclose(again.scores(texts), tuned.scores(texts), atol=1e-6)
    assert again.held_out == {text_key("x"): 0.25}
    assert (tmp_path / "adapters.pt").stat().st_size < 200_000  # adapters and head only, not the network


def test_combine_is_the_mean_of_log_odds():
    assert combine(0.5, 0.5) == pytest.approx(0.5)
    assert combine(0.9, 0.1) == pytest.approx(0.5)
    assert combine(0.99, 0.5) == pytest.approx(1 / (1 + (1 / 99) ** 0.5))


def test_triage_thresholds_the_combination_and_needs_the_tuned_model(tmp_path, tuned):
    rows = [{"text": f"{t}{i}", "danger": True, "kind": "threat"} for i, t in enumerate(DANGER * 3)]
    rows += [{"text": f"{t}{i}", "danger": False} for i, t in enumerate(ORDINARY * 3)]
    (tmp_path / "tiny.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                                         encoding="utf-8")
    examples = load_examples(tmp_path)
    tuned.fingerprint, tuned.held_out = "tuned-1", {}
    model = train_model(examples, folds=3, tuned=tuned)
    assert model.tuned == "tuned-1"
    with pytest.raises(ValueError, match="tuned model"):
        Triage(load_signals(), model)
    triage = Triage(load_signals(), model, tuned=tuned)
    found = triage.assess("他拿着刀在门口等我，说要弄死我们一家")
    linear = model.binary.predict_proba(model._features(["他拿着刀在门口等我，说要弄死我们一家"], None))[0, 1]
    expected = combine(float(linear), float(tuned.scores(["他拿着刀在门口等我，说要弄死我们一家"])[0]))
    assert found.score == pytest.approx(expected)

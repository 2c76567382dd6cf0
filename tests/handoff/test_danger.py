"""The danger model: its examples, how it is trained and kept, and what triage makes of a message.

The model tests use the model trained once per run on the shipped examples with the production encoder
(``tests/conftest.py``); the messages below were written for these tests, not taken from the examples or
from the held-out set ``tests/data/danger/heldout.jsonl`` (which only ``lawline bench danger`` reads).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from handoff.danger import (
    DangerModel,
    Triage,
    ensure_model,
    load_examples,
    model_is_current,
    segments,
    train_model,
)
from handoff.errors import DirectoryError
from handoff.signals import DANGER_KINDS, load_signals
from retrieval.dense import encode


def _write(folder, name, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")


def test_a_malformed_example_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "他又动手了", "danger": true, "kind": "domestic_violence"}\n'
                                      '{"text": "打官司", "danger": false, "kind": "threat"}\n'
                                      'not json\n'
                                      '{"text": "x", "danger": true, "kind": "dragons"}\n', encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_examples(tmp_path)
    problems = caught.value.problems
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in problems] == ["2", "3", "4"]
    assert "an ordinary message has no kind" in problems[0] and "kind must be one of" in problems[2]


def test_the_shipped_examples_are_thousands_of_every_kind_and_as_many_ordinary():
    examples = load_examples()
    kinds = Counter(e.kind for e in examples if e.danger)
    ordinary = sum(1 for e in examples if not e.danger)
    assert set(kinds) == set(DANGER_KINDS) and min(kinds.values()) >= 150
    assert sum(kinds.values()) >= 2000 and ordinary >= 2000
    texts = [e.text for e in examples]
    assert len(set(texts)) >= 0.99 * len(texts)


def test_a_message_splits_into_sentences_for_training_on_ordinary_parts():
    text = "我想问一下工资的事，老板拖了三个月。他昨晚又喝多了把我按在地上。我该去哪里告他"
    parts = segments(text)
    assert parts[0] == text and "他昨晚又喝多了把我按在地上" in parts
    unpunctuated = "就是说那个那个我在工地干了半年" * 4
    assert len(segments(unpunctuated)) > 2 and all(len(p) <= 40 for p in segments(unpunctuated)[1:])
    assert segments("救命") == ["救命"]


def _tiny(tmp_path):
    danger = ["他又动手打人了", "那个人拿着棍子追我", "我不想活了", "他把我关在屋里", "孩子被打得全是伤", "工头不让我们走"] * 3
    ordinary = ["老板欠我工资", "怎么打官司", "离婚孩子归谁", "邻居的树挡光", "借条丢了", "承包地被收回"] * 3
    rows = [{"text": f"{t}{i}", "danger": True, "kind": "threat"} for i, t in enumerate(danger)]
    rows += [{"text": f"{t}{i}", "danger": False} for i, t in enumerate(ordinary)]
    _write(tmp_path, "tiny.jsonl", rows)
    return load_examples(tmp_path)


def test_the_threshold_is_chosen_for_recall_on_held_out_folds(tmp_path):
    model = train_model(_tiny(tmp_path), folds=3)
    assert 0 < model.check_threshold <= 0.5 and model.check_threshold <= model.threshold < 1
    assert model.report["cv_recall"] >= 0.98  # the check-in level misses at most 1 in 100
    assert model.report["cv_false_alarm_rate"] <= 0.03 + 1 / 18  # the alarm level: at most 3 % (one example)
    assert model.report["examples"] == {"danger": 18, "ordinary": 18}


def test_the_saved_model_is_reused_until_the_examples_change(tmp_path):
    examples = _tiny(tmp_path / "examples")
    path = tmp_path / "model" / "model.joblib"
    first = ensure_model(path, None, None, folder=tmp_path / "examples")
    assert model_is_current(path, examples, None)
    stamp = path.stat().st_mtime_ns
    assert ensure_model(path, None, None, folder=tmp_path / "examples").fingerprint == first.fingerprint
    assert path.stat().st_mtime_ns == stamp  # loaded, not trained again
    _write(tmp_path / "examples", "more.jsonl", [{"text": "他说要烧了我家", "danger": True, "kind": "threat"}])
    second = ensure_model(path, None, None, folder=tmp_path / "examples")
    assert second.fingerprint != first.fingerprint and isinstance(DangerModel.load(path), DangerModel)


@pytest.fixture(scope="module")
def triage(corpus_index, use_encoder, tuned_danger):
    model = DangerModel.load(corpus_index[0].parent / "danger" / "model.joblib")
    return Triage(load_signals(), model, lambda texts: encode(use_encoder, texts), tuned_danger)


# Written for this test; none of them matches a curated pattern (checked below), so the model must see them.
UNSEEN_DANGER = [
    ("那口子又喝多了，揪着我头发往门框上磕", "domestic_violence"),
    ("后妈天天拿衣架抽我弟弟，身上都是紫的", "child_at_risk"),
    ("俺娘八十多了，大哥把她撵到牛棚里住，饭也不给送", "vulnerable_adult"),
    ("窑厂老板把俺们几个的身份证收了，门口有人看着出不去", "detention"),
    ("这日子熬不下去了，我把攒的安眠药都倒出来了", "self_harm"),
    ("讨债的说再不还钱就让我儿子上学路上出点事", "threat"),
    ("隔壁村的人扛着铁锹往我们地里来了，这边也在叫人", "group_confrontation"),
    ("老李刚从三楼架子上掉下来，脑袋一直冒血", "injury"),
]

UNSEEN_ORDINARY = [
    "我想死你们了，过年回来一起吃饭",
    "过年杀猪请人帮忙，人家摔了一跤要我赔吗",
    "打了三年工，老板一直不给签合同",
    "他威胁说要去法院告我，我该怎么应诉",
    "前年被人打伤过，现在还能要赔偿吗",
    "气死我了，快递把我的菜刀弄丢了",
]


def test_danger_said_in_other_words_is_recognised_by_the_model(triage):
    for text, _kind in UNSEEN_DANGER:
        assert not triage.signals.danger(text), f"pattern already catches {text}: pick another"
        found = triage.assess(text)
        assert found.danger, text
        assert found.rule is None and found.score is not None and found.score >= found.threshold
        assert found.evidence()["by"] == "model"


def test_the_model_names_the_kind_of_most_unseen_danger(triage):
    right = sum(kind in [k.kind for k in triage.assess(text).kinds] for text, kind in UNSEEN_DANGER)
    assert right >= 6


def test_ordinary_messages_with_alarming_words_raise_no_alarm(triage):
    for text in UNSEEN_ORDINARY:
        assert not triage.assess(text).danger, text


def test_a_pattern_that_fires_is_named_in_the_evidence(triage):
    found = triage.assess("我真的不想活了")
    assert found.rule == "self_harm#1" and found.evidence()["by"] == "pattern"
    assert [k.kind for k in found.kinds] == ["self_harm"]


def test_a_pattern_in_a_message_the_model_reads_as_ordinary_is_a_safety_check_not_an_alarm(triage):
    text = "我们村以前有人跳楼，那是十几年前的事了，跟我家的承包地纠纷有没有关系"  # a pattern's words, long past
    assert triage.signals.danger(text)
    found = triage.assess(text)
    assert found.score is not None and found.score < triage.model.check_threshold
    assert not found.danger and found.check and found.likely == ("self_harm",)
    assert found.evidence()["by"] == "pattern" and found.evidence()["check"]
    present = triage.assess("我弟刚才说要跳楼，人已经站到楼顶边上了")  # the same words, now
    assert present.danger and present.rule is not None


def test_danger_buried_in_a_long_message_about_something_else(triage):
    text = ("您好，我想咨询一下，我在县城一个工地上干活，从去年十月干到今年五月，老板一共欠我两万三千块钱，"
            "说好的年底给结果一拖再拖，昨天我去要钱，他叫了三四个人把我堵在板房里，说再来要钱就打断我的腿，"
            "我现在还在外面不敢回去，这个钱我还能要回来吗，要去劳动局还是法院")
    found = triage.assess(text)
    assert found.danger and not triage.signals.danger(text)

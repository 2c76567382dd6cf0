"""The intent benchmark's metrics on hand-made predictions, its table, its input checks, and a real run."""

from __future__ import annotations

import json

import pytest

from nlu.errors import IntentBenchError
from nlu.intent_bench import bench_intent, format_intent_table, load_intent_rows, run_intent_bench, topic_label


def test_intents_map_to_topics_or_other():
    assert [topic_label(i) for i in ("wages", "support", "land", "dispute")] == ["wages", "support", "land", "dispute"]
    assert {topic_label(i) for i in ("other_legal", "greet", "human", "nlu_fallback", "inform")} == {"other"}


def test_metrics_on_a_hand_made_confusion():
    # gold → predicted intent, chosen so every number can be checked by hand:
    # wages: 3 rows, 2 right, 1 → dispute; dispute: 2 rows, both right; land: 1 row → nlu_fallback (other);
    # other: 2 rows, one other_legal (right), one predicted wages.
    cases = [
        ("w1", "wages", "wages"), ("w2", "wages", "wages"), ("w3", "wages", "dispute"),
        ("d1", "dispute", "dispute"), ("d2", "dispute", "dispute"),
        ("l1", "land", "nlu_fallback"),
        ("o1", "other", "other_legal"), ("o2", "other", "wages"),
    ]
    predictions = {text: intent for text, _, intent in cases}
    result = run_intent_bench([{"text": t, "label": g} for t, g, _ in cases], predictions.__getitem__)

    assert result["n"] == 8 and result["fallback"] == 1
    assert result["accuracy"] == pytest.approx(5 / 8)
    wages, dispute, land, other = (result["per_class"][k] for k in ("wages", "dispute", "land", "other"))
    assert (wages["precision"], wages["recall"], wages["support"]) == (pytest.approx(2 / 3), pytest.approx(2 / 3), 3)
    assert wages["f1"] == pytest.approx(2 / 3)
    assert (dispute["precision"], dispute["recall"], dispute["f1"]) == (pytest.approx(2 / 3), 1.0, pytest.approx(0.8))
    assert (land["precision"], land["recall"], land["f1"], land["support"]) == (0.0, 0.0, 0.0, 1)
    assert (other["precision"], other["recall"], other["f1"]) == (0.5, 0.5, 0.5)
    # support never occurs (no gold row, no prediction): it is left out of the macro average.
    assert result["per_class"]["support"]["support"] == 0
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0.0 + 0.5) / 4)
    assert result["confusion"]["wages"]["dispute"] == 1
    assert result["confusion"]["land"]["other"] == 1
    assert sum(sum(row.values()) for row in result["confusion"].values()) == 8

    table = format_intent_table(result)
    assert "macro-F1 0.4917" in table and "accuracy 0.6250" in table
    assert table.splitlines()[1].split() == ["wages", "0.667", "0.667", "0.667", "3"]


def test_perfect_and_empty_runs():
    rows = [{"text": "a", "label": "land"}, {"text": "b", "label": "other"}]
    perfect = run_intent_bench(rows, {"a": "land", "b": "greet"}.__getitem__)
    assert perfect["accuracy"] == 1.0 and perfect["macro_f1"] == 1.0
    empty = run_intent_bench([], str)
    assert empty["accuracy"] == 0.0 and empty["macro_f1"] == 0.0 and empty["n"] == 0


def test_unknown_gold_label_is_refused():
    with pytest.raises(IntentBenchError, match="wage"):
        run_intent_bench([{"text": "x", "label": "wage"}], lambda _: "wages")


def test_rows_file_is_checked_line_by_line(tmp_path):
    good = tmp_path / "rows.jsonl"
    good.write_text('{"text": "欠工钱", "label": "wages", "id": 1}\n\n{"text": "你好", "label": "other"}\n', encoding="utf-8")
    assert load_intent_rows(good) == [{"text": "欠工钱", "label": "wages"}, {"text": "你好", "label": "other"}]
    for content, line in (('{"text": "a", "label": "wages"}\nnot json\n', 2), ('{"text": "a", "label": "other_legal"}\n', 1)):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(IntentBenchError, match=f"bad.jsonl:{line}:"):
            load_intent_rows(bad)


@pytest.mark.slow
def test_bench_against_a_running_server(rasa_server, tmp_path):
    rows = [
        {"text": "老板拖了俺三个月工钱", "label": "wages"},
        {"text": "儿子不给老娘养老钱", "label": "support"},
        {"text": "村里收了俺家的承包地", "label": "land"},
        {"text": "邻居家的狗把俺咬了", "label": "dispute"},
        {"text": "讲个笑话听听", "label": "other"},
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    result = bench_intent(data, rasa_server.url)
    assert result["n"] == 5 and result["model"] is None
    assert set(result["per_class"]) == {"wages", "support", "land", "dispute", "other"}
    assert result["accuracy"] >= 0.8
    assert json.loads(json.dumps(result)) == result

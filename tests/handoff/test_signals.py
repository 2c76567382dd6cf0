"""The curated danger and complexity patterns: what each must catch, and what it must leave alone."""

from __future__ import annotations

import textwrap

import pytest

from handoff.errors import DirectoryError
from handoff.signals import load_signals, yuan_amounts


@pytest.fixture(scope="module")
def signals():
    return load_signals()


DANGER = [
    ("我老公又打我了，我不敢回家", "domestic_violence"),
    ("被男人打得鼻青脸肿", "domestic_violence"),
    ("他喝了酒就家暴，孩子也怕", "domestic_violence"),
    ("想申请人身安全保护令", "domestic_violence"),
    ("儿子把我关起来不让我出门", "domestic_violence"),
    ("婆婆虐待孩子怎么办", "domestic_violence"),
    ("他扬言要杀了我全家", "threat"),
    ("债主说要弄死我", "threat"),
    ("对方拿着刀在我家门口", "threat"),
    ("有人到我家门口闹，砸了窗户", "threat"),
    ("我真的不想活了", "self_harm"),
    ("钱要不回来，活着没意思", "self_harm"),
    ("他说要喝农药", "self_harm"),
    ("工资拿不到我就跳楼", "self_harm"),
    ("村里一帮人要去把路堵了", "group_confrontation"),
    ("两家人打群架了", "group_confrontation"),
    ("全村人都要去乡政府闹", "group_confrontation"),
    ("明天我们几十个人去工地跟他们拼了", "group_confrontation"),
    ("那伙人还在打我表哥", "assault"),
    ("他们冲进我家就动手打人", "assault"),
    ("邻居家的小孩被人拐走了", "child_at_risk"),
    ("他天天打孩子，孩子身上全是伤", "child_at_risk"),
    ("俺娘被大哥锁起来不给饭吃", "vulnerable_adult"),
    ("工头把我们锁在工棚里不让走", "detention"),
    ("身份证被收走了，说干满一年才不让走也走不了", "detention"),
    ("工友刚才从架子上摔下来了", "injury"),
    ("人昏过去了叫不醒", "injury"),
]

CALM = [
    "老板欠了我三个月工钱不给",
    "打工的工资怎么算加班费",
    "想打官司要多少钱",
    "反家庭暴力法是哪年实施的",
    "邻居家的树挡了我家的光",
    "离婚后孩子归谁",
    "我不想死，只想把钱要回来",
    "我想死你们了，过年回来吃饭",
    "前年被人打伤过，现在还能要赔偿吗",
    "钥匙锁在屋里了",
    "孩子的抚养费他不给",
    "村里要收回我家的承包地",
    "借条丢了还能要钱吗",
]


@pytest.mark.parametrize(("text", "kind"), DANGER)
def test_danger_is_recognised(signals, text, kind):
    assert kind in [s.kind for s in signals.danger(text)]


@pytest.mark.parametrize("text", CALM)
def test_ordinary_questions_are_not_danger(signals, text):
    assert signals.danger(text) == []


@pytest.mark.parametrize(("text", "kind"), [
    ("法院下周开庭，我该准备什么", "court"),
    ("收到法院寄来的传票", "court"),
    ("他把我告了，说我欠钱", "court"),
    ("我们十几个工友都没拿到工资", "several_parties"),
    ("兄弟姐妹几个都不管老人", "several_parties"),
    ("他欠我十二万块钱", "large_claim"),
    ("工程款拖了35万", "large_claim"),
])
def test_cases_beyond_self_help(signals, text, kind):
    assert kind in [s.kind for s in signals.complexity(text)]


@pytest.mark.parametrize("text", ["老板欠我三千块", "借给他5万", "邻居占了我家的路", "告诉我怎么办"])
def test_ordinary_cases_stay_self_help(signals, text):
    assert signals.complexity(text) == []


def test_amounts_in_words_and_digits():
    assert yuan_amounts("欠我三千块，还有十二万元和5.5万") == [3000, 120000, 55000]
    assert yuan_amounts("两万") == [20000]


def test_a_broken_pattern_is_reported_with_its_line(tmp_path):
    path = tmp_path / "signals.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        danger:
          domestic_violence: {label: 家暴, patterns: ["(打我"]}
          threat: {label: 威胁, patterns: [a]}
          self_harm: {label: 自伤, patterns: [a]}
          group_confrontation: {label: 冲突, patterns: [a]}
        complexity:
          court: {label: 开庭, patterns: [a]}
          several_parties: {label: 多方, patterns: [a]}
          large_claim: {label: 大额, patterns: [], min_yuan: -5}
        """), encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_signals(path)
    text = "\n".join(caught.value.problems)
    assert f"{path}:3: danger.domestic_violence: bad pattern" in text
    assert f"{path}:10: 'min_yuan' must be a number" in text

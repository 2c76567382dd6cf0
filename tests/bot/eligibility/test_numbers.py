"""Money as residents say it."""

import pytest

from bot.eligibility.numbers import parse_amount


@pytest.mark.parametrize(("text", "amount"), [
    ("一千五", 1500), ("1500", 1500), ("１５００", 1500), ("1,500", 1500), ("一千五百块", 1500), ("八百多块", 800),
    ("每人每月大概800块左右", 800), ("一万二", 12000), ("1.2万", 12000), ("两千三", 2300), ("三百五", 350),
    ("一千零五", 1005), ("十五", 15), ("两万", 20000), ("一万零五百", 10500), ("3k", 3000), ("2千", 2000),
    ("五百元。", 500), ("没有收入", 0), ("0", 0), ("800.5", 800.5), ("俺家人均一个月才六百", 600),
])
def test_amounts(text, amount):
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["", "几百", "五六百", "不知道", "好多", "一千五百五百", "x" * 50, "百千"])
def test_not_one_clear_amount(text):
    with pytest.raises(ValueError):
        parse_amount(text)

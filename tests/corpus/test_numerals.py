import pytest

from corpus.numerals import cn_to_int, int_to_cn


def test_round_trip_for_every_article_number_in_use():
    for number in range(1, 2000):
        assert cn_to_int(int_to_cn(number)) == number


@pytest.mark.parametrize(
    ("number", "written"),
    [(10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"), (110, "一百一十"), (1001, "一千零一"), (1260, "一千二百六十")],
)
def test_written_the_way_statutes_number_articles(number, written):
    assert int_to_cn(number) == written
    assert cn_to_int(written) == number


@pytest.mark.parametrize("bad", ["", "条", "十a", "三十条"])
def test_rejects_what_is_not_a_numeral(bad):
    with pytest.raises(ValueError):
        cn_to_int(bad)

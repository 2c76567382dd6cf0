"""Answers composed from the real corpus: cards, quoted articles, the not-sure path. Nothing generated."""

import pytest

from bot.answers import AnswerComposer, load_reply_texts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def composer(corpus_retriever):
    return AnswerComposer(corpus_retriever, load_reply_texts())


def test_contractor_absconded_gets_the_card_with_quoted_articles(composer):
    answer = composer.answer("我在工地干了半年，包工头跑了，工钱找谁要", topic="wages")
    assert answer.confident and answer.card == "wages-contractor-absconded"
    assert "《保障农民工工资支付条例》第三十六条" in answer.citations
    assert "《保障农民工工资支付条例》第三十六条：“建设单位或者施工总承包单位" in answer.text  # quoted verbatim
    assert "怎么办：" in answer.text and "去哪里：" in answer.text and "12348" in answer.text
    assert answer.text.count("不是正式的法律意见") == 1


def test_support_question_in_dialect(composer):
    answer = composer.answer("俺老汉七十多了，三个儿子都不管，不给养老钱", topic="support")
    assert answer.confident
    assert "《中华人民共和国民法典》第一千零六十七条" in answer.citations


def test_every_citation_in_an_answer_is_a_real_article(composer, corpus_retriever):
    known = {d.citation for d in corpus_retriever.documents}
    for question in ("闺女嫁到外村了，村里要收她的承包地", "邻居家的狗把我咬了", "借钱不还打了欠条", "老板不给加班费"):
        answer = composer.answer(question)
        assert answer.citations, question
        assert set(answer.citations) <= known, question


def test_not_sure_rather_than_wrong(composer):
    answer = composer.answer("火星上明天的天气怎么样")
    assert not answer.confident
    assert answer.text == composer.texts.unsure
    assert not answer.citations


def test_empty_question(composer):
    assert composer.answer("   ").text == composer.texts.empty_message


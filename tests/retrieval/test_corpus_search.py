"""The whole shipped corpus, imported into SQLite and indexed with the default encoder: resident questions."""

import pytest

from retrieval.documents import Filters

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever(corpus_index, corpus_retriever):
    assert corpus_index[2].calibration["questions"] >= 40
    return corpus_retriever


def _laws(hits):
    return {h.document.law for h in hits if h.document.law} | {
        c.split("》")[0].lstrip("《") for h in hits for c in h.document.cites
    }


def test_unpaid_wages_on_a_building_site(retriever):
    hits = retriever.search("在工地干活老板不给工钱", k=5)
    assert {"保障农民工工资支付条例", "中华人民共和国劳动合同法"} & _laws(hits)
    articles = retriever.search("在工地干活老板不给工钱", k=5, filters=Filters(kinds=frozenset({"article"})))
    assert any(h.document.law in {"保障农民工工资支付条例", "中华人民共和国劳动合同法", "中华人民共和国劳动法"}
               for h in articles)


def test_support_for_parents(retriever):
    hits = retriever.search("儿子不给养老钱", k=5, filters=Filters(kinds=frozenset({"article"})))
    cited = {h.citation for h in hits}
    assert cited & {"《中华人民共和国民法典》第一千零六十七条", "《中华人民共和国老年人权益保障法》第十四条",
                    "《中华人民共和国老年人权益保障法》第十九条"}


def test_land_after_marriage(retriever):
    hits = retriever.search("闺女嫁到外村了，村里要收回她的承包地", k=5, filters=Filters(kinds=frozenset({"article"})))
    assert "中华人民共和国农村土地承包法" in _laws(hits) or "中华人民共和国妇女权益保障法" in _laws(hits)


def test_provincial_rules_only_for_their_province(retriever):
    query = "法律援助 经济困难标准"
    zhejiang = retriever.search(query, k=10, filters=Filters(region="浙江省"))
    assert all(h.document.region in ("national", "浙江省") for h in zhejiang)
    shandong = retriever.search(query, k=10, filters=Filters(region="山东省", kinds=frozenset({"article"})))
    assert any(h.document.region == "山东省" for h in shandong)


def test_confidence_separates_answerable_from_off_topic(retriever):
    good = retriever.search("老板拖欠工资不给怎么办", k=1)[0].confidence
    off = retriever.search("火星上的天气预报怎么样", k=1)
    assert not off or off[0].confidence < good

import datetime as dt

import numpy as np
import pytest

from retrieval.documents import Document, Filters
from retrieval.index import IndexError_, RetrievalIndex
from retrieval.retriever import FusionConfig, Retriever

TODAY = dt.date.today()


def _docs():
    return [
        Document(id="lc30", kind="article", title="中华人民共和国劳动合同法", label="第三十条",
                 citation="《中华人民共和国劳动合同法》第三十条", law="中华人民共和国劳动合同法", short_name="劳动合同法",
                 level="law", text="用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬。",
                 place="第三章 劳动合同的履行和变更", effective=dt.date(2013, 7, 1)),
        Document(id="cc1067", kind="article", title="中华人民共和国民法典", label="第一千零六十七条",
                 citation="《中华人民共和国民法典》第一千零六十七条", law="中华人民共和国民法典", short_name="民法典",
                 level="law", text="成年子女不履行赡养义务的，缺乏劳动能力或者生活困难的父母，有要求成年子女给付赡养费的权利。",
                 effective=dt.date(2021, 1, 1)),
        Document(id="old", kind="article", title="中华人民共和国婚姻法", label="第二十一条",
                 citation="《中华人民共和国婚姻法》第二十一条", law="中华人民共和国婚姻法", short_name="婚姻法", level="law",
                 text="子女不履行赡养义务时，无劳动能力的或生活困难的父母，有要求子女付给赡养费的权利。",
                 effective=dt.date(2001, 4, 28), ends=dt.date(2021, 1, 1)),
        Document(id="sd8", kind="article", title="山东省法律援助条例", label="第八条", citation="《山东省法律援助条例》第八条",
                 law="山东省法律援助条例", short_name="山东省法律援助条例", level="local_regulation", region="山东省",
                 text="公民经济困难标准按照城乡居民上一年度最低生活保障标准的两倍执行。"),
        Document(id="land", kind="article", title="中华人民共和国农村土地承包法", label="第三十一条",
                 citation="《中华人民共和国农村土地承包法》第三十一条", law="中华人民共和国农村土地承包法",
                 short_name="农村土地承包法", level="law",
                 text="承包期内，妇女结婚，在新居住地未取得承包地的，发包方不得收回其原承包地。"),
    ]


@pytest.fixture(scope="module")
def built(use_encoder, analyzer):
    index, stats = RetrievalIndex.build(_docs(), use_encoder, "use-multilingual-v3", analyzer, {}, "v1")
    return index, stats


def _retriever(index, encoder, analyzer):
    return Retriever(index, encoder, analyzer, FusionConfig())


def test_hits_carry_citation_text_and_place(built, use_encoder, analyzer):
    index, stats = built
    assert (stats.documents, stats.encoded) == (5, 5)
    hits = _retriever(index, use_encoder, analyzer).search("老板不给工资怎么办", k=3)
    assert hits[0].document.id == "lc30"
    assert hits[0].citation == "《中华人民共和国劳动合同法》第三十条"
    assert hits[0].document.place == "第三章 劳动合同的履行和变更"
    assert 0.0 <= hits[0].confidence <= 1.0
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_colloquial_question_finds_the_statute(built, use_encoder, analyzer):
    hits = _retriever(built[0], use_encoder, analyzer).search("儿子不给养老钱", k=2)
    assert hits[0].document.id == "cc1067"


def test_repealed_or_superseded_article_is_never_current_law(built, use_encoder, analyzer):
    retriever = _retriever(built[0], use_encoder, analyzer)
    ids = [h.document.id for h in retriever.search("子女不履行赡养义务 赡养费", k=5)]
    assert "old" not in ids and "cc1067" in ids
    historical = retriever.search("子女不履行赡养义务 赡养费", k=5, filters=Filters(on=dt.date(2015, 1, 1)))
    assert "old" in [h.document.id for h in historical]
    assert "cc1067" not in [h.document.id for h in historical]


def test_region_law_and_level_filters(built, use_encoder, analyzer):
    retriever = _retriever(built[0], use_encoder, analyzer)
    query = "经济困难标准 最低生活保障"
    assert "sd8" in [h.document.id for h in retriever.search(query, filters=Filters(region="山东省"))]
    assert "sd8" not in [h.document.id for h in retriever.search(query, filters=Filters(region="浙江省"))]
    only_law = retriever.search("工资", filters=Filters(law="劳动合同法"))
    assert {h.document.id for h in only_law} == {"lc30"}
    assert all(h.document.level == "law" for h in retriever.search(query, filters=Filters(levels=frozenset({"law"}))))


def test_empty_and_nonsense_queries(built, use_encoder, analyzer):
    retriever = _retriever(built[0], use_encoder, analyzer)
    assert retriever.search("   ") == []
    assert isinstance(retriever.search("😀😀😀"), list)


def test_save_load_round_trip(tmp_path, built, use_encoder, analyzer):
    index, _ = built
    index.save(tmp_path / "index")
    loaded = RetrievalIndex.load(tmp_path / "index")
    before = [(h.document.id, round(h.score, 5)) for h in _retriever(index, use_encoder, analyzer).search("承包地 结婚")]
    after = [(h.document.id, round(h.score, 5)) for h in _retriever(loaded, use_encoder, analyzer).search("承包地 结婚")]
    assert before == after
    assert loaded.manifest.model == "use-multilingual-v3" and loaded.manifest.dimension == 512


def test_incremental_build_encodes_only_what_changed(built, use_encoder, analyzer):
    index, _ = built
    docs = _docs()
    docs[0] = Document(**{**docs[0].to_json(), "effective": docs[0].effective, "ends": None, "cites": (),
                          "text": docs[0].text + "不得克扣或者无故拖欠。"})
    docs = [d for d in docs if d.id != "land"]
    updated, stats = RetrievalIndex.build(docs, use_encoder, "use-multilingual-v3", analyzer, {}, "v2", previous=index)
    assert (stats.encoded, stats.reused, stats.removed) == (1, 3, 2)
    assert updated.dense.size == 4
    hits = _retriever(updated, use_encoder, analyzer).search("克扣 拖欠 工资")
    assert hits[0].document.id == "lc30"
    assert "land" not in [h.document.id for h in _retriever(updated, use_encoder, analyzer).search("承包地 妇女 结婚")]


def test_a_failed_save_leaves_the_previous_index(tmp_path, built, monkeypatch):
    index, _ = built
    target = tmp_path / "index"
    index.save(target)
    before = (target / "manifest.json").read_text(encoding="utf-8")

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index.dense, "save", broken)
    with pytest.raises(OSError):
        index.save(target)
    assert (target / "manifest.json").read_text(encoding="utf-8") == before
    assert RetrievalIndex.load(target).documents[0].id == "lc30"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".index-")]


def test_missing_or_corrupt_index_is_a_clear_error(tmp_path, built):
    with pytest.raises(IndexError_, match="lawline index build"):
        RetrievalIndex.load(tmp_path / "nothing")
    built[0].save(tmp_path / "index")
    (tmp_path / "index" / "documents.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(IndexError_, match="rebuild"):
        RetrievalIndex.load(tmp_path / "index")


def test_duplicate_document_ids_are_refused(use_encoder, analyzer):
    docs = _docs()
    with pytest.raises(ValueError, match="duplicate"):
        RetrievalIndex.build(docs + docs[:1], use_encoder, "m", analyzer, {}, "v")


def test_dense_scores_are_cosines(built):
    index, _ = built
    vectors = np.vstack([index.dense.index.reconstruct(int(i)) for i in index.faiss_ids])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)

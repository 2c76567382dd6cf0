import datetime as dt
import shutil

from sqlalchemy import func, select

from corpus import CorpusRepository, import_corpus
from corpus.errors import CitationError, CorpusFormatError
from corpus.models import AnswerCard, Article, Case, Law
from tests.conftest import CORPUS


def _count(sessions, model):
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_full_import_is_idempotent(sessions):
    first = import_corpus(CORPUS, sessions)
    assert not first.failed
    assert (len(first.added), len(first.updated)) == (158, 0)
    assert _count(sessions, Law) == 42
    assert _count(sessions, Case) == 58
    assert _count(sessions, AnswerCard) == 58
    articles = _count(sessions, Article)
    assert articles > 4000
    second = import_corpus(CORPUS, sessions)
    assert (len(second.added), len(second.updated), len(second.unchanged)) == (0, 0, 158)
    assert _count(sessions, Article) == articles
    with sessions() as session:
        version = CorpusRepository(session).corpus_version()
        article = CorpusRepository(session).find_article("劳动合同法", "第三十条")
        assert article is not None and article.citation == "《中华人民共和国劳动合同法》第三十条"
        assert article.path == ["第三章 劳动合同的履行和变更"]
    import_corpus(CORPUS, sessions)
    with sessions() as session:
        assert CorpusRepository(session).corpus_version() == version


def _small_corpus(tmp_path):
    root = tmp_path / "data"
    (root / "statutes").mkdir(parents=True)
    (root / "cards" / "wages").mkdir(parents=True)
    for name in ("中华人民共和国劳动合同法.md", "保障农民工工资支付条例.md"):
        shutil.copy(CORPUS / "statutes" / name, root / "statutes" / name)
    shutil.copy(CORPUS / "cards" / "wages" / "wages-contractor-absconded.yaml", root / "cards" / "wages")
    return root


def test_malformed_file_is_reported_and_nothing_of_it_written(tmp_path, sessions):
    root = _small_corpus(tmp_path)
    broken = root / "statutes" / "坏文件.md"
    text = (CORPUS / "statutes" / "中华人民共和国劳动法.md").read_text(encoding="utf-8")
    lines = text.split("\n")
    bad_line = next(i for i, line in enumerate(lines) if line.startswith("第五十条 "))
    lines[bad_line] = lines[bad_line].replace("第五十条", "第四十条", 1)  # a repeated number mid-file
    broken.write_text("\n".join(lines), encoding="utf-8")
    report = import_corpus(root, sessions)
    assert len(report.failed) == 1
    error = report.failed[0]
    assert isinstance(error, CorpusFormatError)
    assert error.path == broken and error.line == bad_line + 1
    assert sorted(report.added) == [
        "cards/wages/wages-contractor-absconded.yaml",
        "statutes/中华人民共和国劳动合同法.md",
        "statutes/保障农民工工资支付条例.md",
    ]
    with sessions() as session:
        assert session.scalar(select(Law).where(Law.title == "中华人民共和国劳动法")) is None


def test_card_citing_a_missing_article_is_refused_with_its_line(tmp_path, sessions):
    root = _small_corpus(tmp_path)
    card = root / "cards" / "wages" / "wages-contractor-absconded.yaml"
    card.write_text(card.read_text(encoding="utf-8").replace("第三十六条", "第九百条"), encoding="utf-8")
    report = import_corpus(root, sessions)
    assert len(report.failed) == 1 and isinstance(report.failed[0], CitationError)
    line = card.read_text(encoding="utf-8").split("\n").index("    article: 第九百条") + 1
    assert report.failed[0].line == line
    assert _count(sessions, AnswerCard) == 0


def test_changed_file_replaces_its_articles(tmp_path, sessions):
    root = _small_corpus(tmp_path)
    import_corpus(root, sessions)
    path = root / "statutes" / "中华人民共和国劳动合同法.md"
    path.write_text(path.read_text(encoding="utf-8").replace("不得扣押劳动者的居民身份证", "不得扣押劳动者的身份证件"),
                    encoding="utf-8")
    report = import_corpus(root, sessions)
    assert report.updated == ["statutes/中华人民共和国劳动合同法.md"]
    with sessions() as session:
        article = CorpusRepository(session).find_article("劳动合同法", "第九条")
        assert article is not None and "身份证件" in article.text
        assert session.scalar(select(func.count()).select_from(Article).join(Law)
                              .where(Law.title == "中华人民共和国劳动合同法")) == 98


def test_amendment_supersedes_the_older_version(tmp_path, sessions):
    root = _small_corpus(tmp_path)
    import_corpus(root, sessions)
    amended = root / "statutes" / "中华人民共和国劳动合同法（2030修正）.md"
    text = (root / "statutes" / "中华人民共和国劳动合同法.md").read_text(encoding="utf-8")
    text = text.replace("effective: 2013-07-01", "effective: 2030-01-01").replace(
        "第三十条 用人单位应当按照", "第三十条 用人单位应当每月按照")
    amended.write_text(text, encoding="utf-8")
    report = import_corpus(root, sessions)
    assert not report.failed
    with sessions() as session:
        repo = CorpusRepository(session)
        versions = session.scalars(select(Law).where(Law.title == "中华人民共和国劳动合同法")
                                   .order_by(Law.effective)).all()
        assert [v.superseded_on for v in versions] == [dt.date(2030, 1, 1), None]
        old = repo.find_article("劳动合同法", "第三十条", on=dt.date(2026, 11, 23))
        new = repo.find_article("劳动合同法", "第三十条", on=dt.date(2030, 6, 1))
        assert old is not None and "每月" not in old.text
        assert new is not None and "每月" in new.text


def test_prune_removes_documents_whose_file_is_gone(tmp_path, sessions):
    root = _small_corpus(tmp_path)
    import_corpus(root, sessions)
    (root / "statutes" / "保障农民工工资支付条例.md").unlink()
    (root / "cards" / "wages" / "wages-contractor-absconded.yaml").unlink()
    report = import_corpus(root, sessions, prune=True)
    assert sorted(report.removed) == ["cards/wages/wages-contractor-absconded.yaml", "statutes/保障农民工工资支付条例.md"]
    assert _count(sessions, Law) == 1
    assert _count(sessions, AnswerCard) == 0

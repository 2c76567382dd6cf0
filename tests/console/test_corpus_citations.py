"""The console's searches resolve citations as residents' questions do: the knowledge-base search box and the
hit test, in the real app (uvicorn, real HTTP) on a private copy of the imported corpus and its index."""

import re

import pytest

from tests.conftest import free_port, running_app
from tests.console.conftest import add_accounts, client_for, copy_corpus_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(corpus_index, tmp_path_factory):
    return copy_corpus_env(corpus_index, tmp_path_factory.mktemp("console-citations"))


@pytest.fixture(scope="module")
def app(env):
    names = add_accounts(env.sessions)
    with running_app(env.settings, free_port()) as url:
        yield url, names["editor"]


@pytest.fixture
def editor(app):
    return client_for(*app)


def _article_links(html: str) -> list[str]:
    """The articles a page links, by their stable address (``bot.console.links``: title and label, no row id)."""
    return re.findall(r'<a href="/console/corpus/laws/[^"/?]+/[^"/?]+(?:\?version=[^"]+)?">([^<]+)</a>', html)


def test_the_search_box_lists_the_cited_article_and_its_law_first(editor):
    page = editor.get("/console/corpus", params={"q": "劳动合同法第30条"})
    assert page.status_code == 200
    links = _article_links(page.text)
    assert links[0] == "《中华人民共和国劳动合同法》第三十条" and "所引条文" in page.text
    assert re.search(r'<a href="/console/corpus/laws/[^"/?]+">中华人民共和国劳动合同法</a>', page.text)
    assert "/console/corpus/articles/" not in page.text  # no link an import or a publish would break
    # Text that cites nothing is searched as before: no article is marked as cited.
    plain = editor.get("/console/corpus", params={"q": "及时足额支付劳动报酬"})
    assert "《中华人民共和国劳动合同法》第三十条" in _article_links(plain.text) and "所引条文" not in plain.text


def test_the_search_box_says_when_a_cited_law_was_repealed(editor):
    page = editor.get("/console/corpus", params={"q": "婚姻法第三十二条"})
    assert '<p class="warn">《中华人民共和国婚姻法》已于2021年1月1日废止' in page.text
    assert "现行规定见《中华人民共和国民法典》" in page.text


def test_the_hit_test_puts_the_cited_article_first(editor):
    page = editor.get("/console/hit", params={"q": "民法典1067条"})
    assert page.status_code == 200
    first = re.search(r'<ol class="hits" id="hits">\s*<li><b>([^<]+)</b>', page.text)
    assert first and first.group(1) == "《中华人民共和国民法典》第一千零六十七条"
    assert "所引条文：按条号查到" in page.text


@pytest.mark.parametrize("query", ["《中华人民共和国劳动合同法》第三十条", "《劳动合同法》第三十条", "劳动合同法第30条",
                                   "劳动合同法 第三十条", "劳动合同法第三十条第一款"])
def test_every_common_form_of_a_citation_finds_the_article(editor, query):
    links = _article_links(editor.get("/console/corpus", params={"q": query}).text)
    assert links and links[0] == "《中华人民共和国劳动合同法》第三十条", (query, links[:3])


def test_a_citation_of_an_article_the_law_does_not_have_says_so(editor):
    page = editor.get("/console/corpus", params={"q": "劳动合同法第300条"})
    assert "《中华人民共和国劳动合同法》没有第三百条，请核对条号。" in page.text


def test_the_stable_address_opens_the_article_in_force_and_a_version_by_its_date(editor, env):
    from urllib.parse import quote

    from sqlalchemy import select

    from corpus.models import Law

    title = quote("中华人民共和国劳动合同法")
    current = editor.get(f"/console/corpus/laws/{title}/{quote('第三十条')}")
    assert current.status_code == 200 and "用人单位应当按照劳动合同约定和国家规定" in current.text
    assert "始终打开现行有效的版本" in current.text
    short = editor.get(f"/console/corpus/laws/{quote('劳动合同法')}/{quote('第三十条')}")  # the short name
    assert short.status_code == 200 and "《中华人民共和国劳动合同法》第三十条" in short.text
    with env.sessions() as session:
        effective = session.scalar(select(Law.effective).where(Law.title == "中华人民共和国劳动合同法"))
    pinned = editor.get(f"/console/corpus/laws/{title}/{quote('第三十条')}", params={"version": effective.isoformat()})
    assert pinned.status_code == 200
    missing = editor.get(f"/console/corpus/laws/{title}/{quote('第三十条')}", params={"version": "1999-01-01"})
    assert missing.status_code == 404 and "劳动合同法第30条" in missing.text

"""Accounts, passwords, drafts and the file write-back on real SQLite and PostgreSQL (throttling: test_throttle.py)."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.console.accounts import AccountError, create_account, find_account, set_password, sign_in, update_account
from bot.console.auth import Account
from bot.console.corpus_files import (
    EditError,
    card_yaml,
    parse_card_text,
    parse_statute_text,
    replace_article,
    set_law_dates,
)
from bot.console.diffing import diff_lines, diff_summary
from bot.console.drafts import (
    DraftError,
    approve_draft,
    new_article_draft,
    new_dates_draft,
    reject_draft,
    submit_draft,
    withdraw_draft,
)
from bot.console.masking import mask_personal_data
from bot.console.models import AuditEntry, ConsoleSession
from bot.console.passwords import PasswordPolicyError, check_policy, hash_password, needs_rehash, verify_password
from corpus import import_corpus
from corpus.models import Article, Law
from tests.conftest import CORPUS

LABOUR_LAW = CORPUS / "statutes" / "中华人民共和国劳动合同法.md"
PASSWORD = "correct horse battery 9"


def test_passwords_are_salted_scrypt_and_verify():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$32768$8$1$")
    assert verify_password(PASSWORD, first) and not verify_password("wrong password!!", first)
    assert not verify_password(PASSWORD, "not a hash") and not verify_password(PASSWORD, "md5$x$y$z$a$b")
    assert not needs_rehash(first) and needs_rehash("scrypt$16384$8$1$AAAA$BBBB")
    for weak in ("short", "aaaaaaaaaaaa", "editor-long-password"):
        with pytest.raises(PasswordPolicyError):
            check_policy(weak, "editor")


def test_unknown_names_and_disabled_accounts_cannot_sign_in(sessions):
    with sessions.begin() as session:
        row = create_account(session, "adviser", PASSWORD, "adviser", villages=["白土坝村", " ", "白土坝村"])
        assert row.villages == ["白土坝村"]
        update_account(session, row, active=False)
    with sessions.begin() as session:
        assert sign_in(session, "adviser", PASSWORD, "x").account is None
        assert sign_in(session, "nobody", PASSWORD, "x").account is None


def test_account_rules(sessions):
    with sessions.begin() as session:
        admin = create_account(session, "admin", PASSWORD, "admin")
        with pytest.raises(AccountError):
            create_account(session, "admin", PASSWORD, "admin")
        with pytest.raises(AccountError):
            create_account(session, "x y", PASSWORD, "editor")
        with pytest.raises(AccountError):
            create_account(session, "boss", PASSWORD, "superuser")
        me = Account(admin.id, "admin", "admin", "admin")
        with pytest.raises(AccountError):
            update_account(session, admin, role="editor", actor=me)
        session.add(ConsoleSession(token_hash="a" * 64, account_id=admin.id, csrf_token="t",
                                   created_at=dt.datetime.now(dt.UTC), expires_at=dt.datetime.now(dt.UTC)))
        session.flush()
        set_password(session, admin, "another good passw0rd")  # ends the sessions
        assert session.scalar(select(func.count()).select_from(ConsoleSession)) == 0
    with sessions() as session:
        assert verify_password("another good passw0rd", find_account(session, "admin").password_hash)


def test_masking_removes_phone_id_card_and_names():
    text = ("我叫王小明，电话13812345678，身份证110101199003071234，银行卡6222 0212 3456 7890 123，"
            "座机023-79223456，邮箱wang@example.com，微信号 wxid_abc123，张师傅欠我工资。李某说不给。")
    masked = mask_personal_data(text)
    for secret in ("小明", "13812345678", "1990030712", "6222 0212", "79223456", "wang@example", "wxid_abc123"):
        assert secret not in masked, (secret, masked)
    assert "王**" in masked and "张*师傅" not in masked and "师傅" in masked and "李某" in masked
    assert "欠我工资" in masked and mask_personal_data("老板欠了三个月工钱不给") == "老板欠了三个月工钱不给"


def test_diff_marks_changed_characters():
    lines = diff_lines("劳动者可以在十五日内申请。\n第二款不变。", "劳动者可以在三十日内申请。\n第二款不变。\n新增一款。")
    kinds = [line.kind for line in lines]
    assert kinds == ["changed", "same", "added"]
    assert "<del>十五</del><ins>三十</ins>" in str(lines[0].html)
    assert "&lt;" in str(diff_lines("a", "<script>")[0].html)  # escaped
    assert diff_summary("十五日", "三十日") == "+1 −1 字" and diff_summary("a", "a") == "+0 −0 字"


def test_article_replacement_and_dates_round_trip_through_the_parser():
    text = LABOUR_LAW.read_text(encoding="utf-8")
    new = replace_article(text, "第三十条", "用人单位应当及时足额支付劳动报酬。\n第二款新文本。")
    parsed = parse_statute_text(new, "statutes/中华人民共和国劳动合同法.md")
    articles = {a.label: a.text for a in parsed.articles}
    assert articles["第三十条"] == "用人单位应当及时足额支付劳动报酬。\n第二款新文本。"
    original = {a.label: a.text for a in parse_statute_text(text, "x.md").articles}
    assert {k: v for k, v in articles.items() if k != "第三十条"} == {
        k: v for k, v in original.items() if k != "第三十条"}
    with pytest.raises(EditError):
        replace_article(text, "第三十条", "第三十一条 偷偷插一条")
    with pytest.raises(EditError):
        replace_article(text, "第九百条", "不存在")
    dated = set_law_dates(text, dt.date(2013, 7, 1), dt.date(2030, 1, 1))
    meta = parse_statute_text(dated, "x.md").meta
    assert meta.effective == dt.date(2013, 7, 1) and meta.repealed == dt.date(2030, 1, 1)
    undone = parse_statute_text(set_law_dates(dated, dt.date(2013, 7, 1), None), "x.md").meta
    assert undone.repealed is None


def test_card_yaml_is_what_the_card_parser_reads():
    card = {"id": "wages-x", "topic": "wages", "title": "问？", "questions": ["一", "二"], "not_for": ["三", "四", "五"],
            "answer": "第一行\n第二行",
            "next_steps": ["做"], "where_to_go": ["去"], "citations": [{"law": "中华人民共和国劳动法", "article": "第五十条"}],
            "version": 3, "updated": dt.date(2026, 11, 23), "reviewed": True}
    parsed = parse_card_text(card_yaml(card), "cards/wages/wages-x.yaml")
    assert parsed.answer == "第一行\n第二行" and parsed.version == 3 and parsed.reviewed
    assert parsed.not_for == ("三", "四", "五")
    assert parsed.citations[0].article == "第五十条"


def test_drafts_need_a_second_person_to_approve(sessions, tmp_path):
    assert not import_corpus(LABOUR_LAW, sessions).failed
    (tmp_path / "statutes").mkdir()
    (tmp_path / "statutes" / LABOUR_LAW.name).write_bytes(LABOUR_LAW.read_bytes())
    with sessions.begin() as session:
        rows = {r: create_account(session, r, PASSWORD, role) for r, role in
                (("ed", "editor"), ("rev", "reviewer"), ("rev2", "reviewer"))}
        people = {k: Account.of(v) for k, v in rows.items()}
        article = session.scalar(select(Article).where(Article.label == "第三十条"))
        law_id = session.scalar(select(Law.id))
    with sessions.begin() as session:
        with pytest.raises(DraftError):
            new_article_draft(session, people["ed"], tmp_path, article.id, article.text)  # nothing changed
        draft = new_article_draft(session, people["ed"], tmp_path, article.id, "新的条文。", submit=False)
        assert draft.status == "draft" and draft.before == article.text
        draft_id = draft.id
    with sessions.begin() as session:
        with pytest.raises(DraftError):
            submit_draft(session, people["rev"], draft_id)  # not the author
        submit_draft(session, people["ed"], draft_id)
    with sessions.begin() as session:
        with pytest.raises(DraftError):
            approve_draft(session, people["ed"], draft_id)  # an editor cannot approve
        with pytest.raises(DraftError):
            reject_draft(session, people["rev"], draft_id, "")  # a reason is required
        reject_draft(session, people["rev"], draft_id, "依据不足")
    with sessions.begin() as session:
        own = new_dates_draft(session, people["rev"], tmp_path, law_id, "2013-07-01", "2031-01-01")
        own_id = own.id
        with pytest.raises(DraftError):
            new_dates_draft(session, people["rev"], tmp_path, law_id, "2013-07-01", "2001-01-01")
    with sessions.begin() as session:
        with pytest.raises(DraftError):
            approve_draft(session, people["rev"], own_id)  # a reviewer cannot approve their own draft
        assert approve_draft(session, people["rev2"], own_id).status == "publishing"
    with sessions.begin() as session:
        with pytest.raises(DraftError):
            withdraw_draft(session, people["ed"], own_id)
    with sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.target.like("draft:%"))))
    assert actions == ["draft.create", "draft.submit", "draft.reject", "draft.submit", "draft.approve"]

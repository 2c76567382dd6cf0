"""A resident's request on real SQLite and PostgreSQL: export holds theirs and nobody else's, delete erases it."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.console.models import AuditEntry
from bot.conversation import sender_id
from bot.eligibility.models import PreApplication
from bot.privacy import CaseStillOpen, ResidentNotFound, delete_resident, export_resident, find_resident
from tests.bot.privacy.conftest import HANDOFF_TEXT, everything, rasa_senders


def _export(county, who: str, **options) -> tuple[object, str]:
    with county.sessions() as session:
        resident = find_resident(session, who, **options)
        return resident, json.dumps(export_resident(session, resident, county.tracker), ensure_ascii=False)


def test_a_phone_number_finds_the_case_it_was_given_for_not_a_conversation_that_mentions_it(county):
    a, b, e = (county.people[n] for n in "ABE")
    resident, exported = _export(county, "139-1234-5678")
    assert (resident.kind, resident.keys, resident.mentions) == ("phone", [a.key], [e.key])
    for secret in a.secrets:
        assert secret in exported, secret
    data = json.loads(exported)
    assert [m["text"] for m in data["conversations"][0]["messages"]][0].startswith("我叫王大明")
    assert data["cases"][0]["callback_phone"] == a.phone and data["cases"][0]["events"]
    assert {x["by"] for x in data["cases"][0]["events"]} == {"bot", "resident", "staff"}  # no staff ids
    assert data["legal_aid_checks"][0]["decision"]["input"] == {"income": 1800, "household": 3}
    assert data["profiles"] == [{"village": "sx-t1-v1", "last_topic": "wages", "channel": "official_account",
                                 "updated_at": data["profiles"][0]["updated_at"]}]
    assert data["inbox"][0]["text"] == "王大明" and data["judged_questions"]
    assert {x["sender_id"] for x in data["rasa_tracker"]["events"]} == {sender_id(a.key)}
    for other in (*b.secrets, "房东不退押金", e.key, b.key):  # E only wrote A's number down
        assert other not in exported, other
    _, with_mentions = _export(county, "13912345678", include_mentions=True)
    assert "房东不退押金" in with_mentions  # only when asked for, after checking whose it is


def test_a_phone_left_with_a_pre_application_finds_that_resident_and_goes_with_the_erasure(county):
    b = county.people["B"]
    with county.sessions.begin() as session:  # B agreed to leave another number when sending it
        row = session.scalar(select(PreApplication).where(PreApplication.sender == sender_id(b.key)))
        row.contact_name, row.contact_phone = "李小红", "02312345678"
    resident, exported = _export(county, "023-12345678")
    assert resident.keys == [b.key]
    check = json.loads(exported)["legal_aid_checks"][0]
    assert (check["contact_name"], check["contact_phone"]) == ("李小红", "02312345678")
    with county.sessions.begin() as session:
        delete_resident(session, resident, handoff_text=HANDOFF_TEXT, tracker=county.tracker)
    with county.sessions() as session:
        assert session.scalar(select(PreApplication).where(PreApplication.contact_phone == "02312345678")) is None


def test_an_openid_or_a_key_finds_exactly_that_resident(county):
    b = county.people["B"]
    for who in (b.openid, b.key):
        resident, exported = _export(county, who)
        assert resident.keys == [b.key] and resident.conversation_ids == [b.conversation_id]
        assert all(secret in exported for secret in b.secrets)
        assert not any(secret in exported for secret in county.people["A"].secrets[:2])
    with county.sessions() as session, pytest.raises(ResidentNotFound):
        find_resident(session, "o-nobody-at-all")


def test_delete_erases_everything_of_theirs_and_nothing_else(county):
    a, b = county.people["A"], county.people["B"]
    with county.sessions() as session:
        counts = delete_resident(session, find_resident(session, b.openid), handoff_text=HANDOFF_TEXT,
                                 tracker=county.tracker)
        session.commit()
    assert counts == {"rasa events": 2, "cases": 1, "judged questions": 1, "messages": 3, "pre-applications": 1,
                      "conversations": 1}
    held = everything(county)
    for secret in b.secrets:
        assert secret not in held, secret
    assert all(secret in held for secret in a.secrets)
    assert sender_id(b.key) not in rasa_senders(county) and sender_id(a.key) in rasa_senders(county)
    with county.sessions() as session, pytest.raises(ResidentNotFound):
        find_resident(session, b.openid)  # nothing left to find


def test_a_case_still_handled_stops_the_deletion_before_anything_changes(county):
    before = everything(county)
    with county.sessions() as session:
        with pytest.raises(CaseStillOpen) as info:
            delete_resident(session, find_resident(session, county.people["D"].phone), handoff_text=HANDOFF_TEXT,
                            tracker=county.tracker)
        session.rollback()
    assert info.value.ticket_ids == [county.people["D"].ticket_id]
    assert everything(county) == before


def _cli(county, tmp_path, *args: str, input: str | None = None):
    env = {"LAWLINE_DATABASE_URL": county.database_url, "LAWLINE_VAR_DIR": str(tmp_path / "var"),
           "LAWLINE_RASA_TRACKER_HOST": county.tracker_url}  # a whole URL, as Rasa's endpoints.yml allows
    return CliRunner().invoke(main, ["privacy", *args], env=env, input=input)


def _audit(county) -> list[tuple[str, str, str, dict]]:
    with county.sessions() as session:
        return [(e.action, e.username, e.target, e.detail) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("privacy.%")).order_by(AuditEntry.id))]


def test_the_commands_write_the_export_erase_and_audit_both(county, tmp_path):
    a = county.people["A"]
    out = tmp_path / "export.json"
    exported = _cli(county, tmp_path, "export", "+86 139 1234 5678", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert "not included" in exported.output  # E's mention is pointed out, not exported
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert "王大明" in out.read_text(encoding="utf-8") and "房东" not in out.read_text(encoding="utf-8")
    refused = _cli(county, tmp_path, "delete", a.openid, input="n\n")
    assert refused.exit_code != 0 and a.secrets[1] in everything(county)  # asked, and told no
    deleted = _cli(county, tmp_path, "delete", a.openid, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert a.secrets[1] not in everything(county) and sender_id(a.key) not in rasa_senders(county)
    entries = _audit(county)
    assert [e[0] for e in entries] == ["privacy.export", "privacy.delete"]
    assert all(e[1].startswith("cli:") and e[2] == f"conversations:{a.conversation_id}" for e in entries)
    assert entries[1][3]["messages"] == 3 and entries[1][3]["by"] == "openid"
    assert not any(secret in repr(entries) for secret in (*a.secrets, a.openid))  # the audit names ids only
    open_case = _cli(county, tmp_path, "delete", county.people["D"].openid, "--yes")
    assert open_case.exit_code == 1 and "still being handled" in open_case.output


def test_purge_from_the_command_line(county, tmp_path):
    before = everything(county)
    dry = _cli(county, tmp_path, "purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would erase" in dry.output and "messages: 5" in dry.output and "rasa tracker: 4 events" in dry.output
    assert everything(county) == before and _audit(county) == []
    done = _cli(county, tmp_path, "purge")
    assert done.exit_code == 0 and "messages: 5" in done.output
    assert [e[0] for e in _audit(county)] == ["privacy.purge"]

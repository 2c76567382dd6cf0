"""去哪里办事 (``bot.places``) on a real database: the place the message names, else the village the resident told."""

from __future__ import annotations

from bot.answers import load_reply_texts
from bot.models import Conversation
from bot.places import Places
from handoff.directory import SAMPLE_DIRECTORY, load_directory
from handoff.ports import utc_now
from handoff.residents import profile


def _resident(sessions, sender: str) -> str:
    key = f"web:{sender:0>32}"
    with sessions.begin() as session:
        session.add(Conversation(key=key, sender=sender, channel="web", openid=key[4:]))
    return key


def test_the_village_told_before_is_where_the_points_are_and_a_named_one_is_remembered(sessions):
    directory = load_directory(SAMPLE_DIRECTORY)
    places = Places(sessions, lambda: directory, load_reply_texts().where)
    told = _resident(sessions, "s-told")
    with sessions.begin() as session:
        profile(session, told, utc_now()).village = "sx-t2-v1"  # as the handoff desk remembers it
    _resident(sessions, "s-names")
    assert places.where("s-told", "去哪里办事").place == "sx-t2-v1"
    assert places.where("s-names", "我在示例镇示例村，去哪里办").place == "sx-t1-v1"
    assert places.where("s-names", "去哪里办事").place == "sx-t1-v1"
    nobody = places.where("s-unknown", "去哪里办事")
    assert nobody.place is None and [b["title"] for b in nobody.buttons] == [t.name for t in directory.towns]

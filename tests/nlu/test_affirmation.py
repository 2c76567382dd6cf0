"""The response the app's action_default_ask_affirmation dispatches (first stage of the fallback)."""

from __future__ import annotations

from pathlib import Path

import yaml

from nlu.affirmation import affirmation_response, intent_to_affirm

RESPONSES = yaml.safe_load((Path(__file__).resolve().parents[2] / "nlu" / "rasa" / "domain.yml").read_text("utf-8"))[
    "responses"
]


def _message(top: str, *ranking: str) -> dict:
    return {"intent": {"name": top}, "intent_ranking": [{"name": n, "confidence": 0.1} for n in ranking]}


def test_the_best_real_intent_is_affirmed_in_chinese():
    response = affirmation_response(_message("nlu_fallback", "nlu_fallback", "land", "dispute"), RESPONSES)
    assert response == {"response": "utter_ask_affirm", "intent": "land", "intent_label": "农村土地承包的问题"}


def test_every_intent_has_a_chinese_name():
    domain = yaml.safe_load((Path(__file__).resolve().parents[2] / "nlu" / "rasa" / "domain.yml").read_text("utf-8"))
    for intent in domain["intents"]:
        assert f"utter_intent_{intent}" in RESPONSES, intent


def test_nothing_to_affirm_asks_to_rephrase():
    assert intent_to_affirm(_message("nlu_fallback", "nlu_fallback")) is None
    assert intent_to_affirm({}) is None
    assert affirmation_response(_message("nlu_fallback", "out_of_scope"), RESPONSES) == {"response": "utter_ask_rephrase"}

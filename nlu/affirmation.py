"""What the first stage of the two-stage fallback asks (``action_default_ask_affirmation``).

Rasa's built-in affirmation asks in English ("Did you mean 'wages'?"), so the domain overrides it with a
custom action that the app serves. The action only has to dispatch the response this module builds:
``utter_ask_affirm`` filled with the intent to confirm and its Chinese name from ``utter_intent_<name>``.
With buttons 是 (``/<intent>``) and 不是 (``/out_of_scope``), Rasa's loop then goes on as documented in
https://rasa.com/docs/rasa/fallback-handoff#two-stage-fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["affirmation_response", "intent_to_affirm"]

FALLBACK_INTENT = "nlu_fallback"
_NOT_AFFIRMABLE = frozenset({FALLBACK_INTENT, "out_of_scope"})


def intent_to_affirm(latest_message: Mapping[str, Any]) -> str | None:
    """The best-ranked real intent of the tracker's latest message, or None if there is none."""
    ranking = latest_message.get("intent_ranking") or []
    top = (latest_message.get("intent") or {}).get("name")
    for name in [top, *(entry.get("name") for entry in ranking if isinstance(entry, Mapping))]:
        if isinstance(name, str) and name and name not in _NOT_AFFIRMABLE:
            return name
    return None


def affirmation_response(latest_message: Mapping[str, Any], responses: Mapping[str, Any]) -> dict[str, str]:
    """The response to dispatch: ``utter_ask_affirm`` with ``intent``/``intent_label``, else a rephrase.

    ``responses`` is the domain's ``responses`` (the rasa-sdk action gets the domain with every call). The
    dict is what a rasa-sdk action passes as ``dispatcher.utter_message(**response)``, or puts as-is into
    the webhook answer's ``responses``.
    """
    intent = intent_to_affirm(latest_message)
    variants = responses.get(f"utter_intent_{intent}") if intent else None
    if not intent or not variants:
        return {"response": "utter_ask_rephrase"}
    label = str(variants[0].get("text", intent))
    return {"response": "utter_ask_affirm", "intent": intent, "intent_label": label}

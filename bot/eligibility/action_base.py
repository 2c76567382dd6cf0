"""The base of the self-check's Rasa actions: the service injected, the name the domain knows it by."""

from __future__ import annotations

from typing import ClassVar

from rasa_sdk import Action

from bot.eligibility.service import EligibilityService

__all__ = ["EligibilityAction"]


class EligibilityAction(Action):
    """A self-check action; a subclass sets ``action_name`` (its name in nlu/rasa/domain.yml)."""

    action_name: ClassVar[str]

    def __init__(self, service: EligibilityService) -> None:
        self.service = service

    def name(self) -> str:
        return self.action_name

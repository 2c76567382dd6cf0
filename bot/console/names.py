"""Chinese names for every code the analytics show, read from where the project defines them.

- topics and channels: here (``TOPIC_NAMES``, ``CHANNEL_NAMES``) — the analytics' own classification of
  answers (``bot.console.figures.topic_of``), defined nowhere else;
- legal-aid matters: the eligibility rules' ``label`` (``corpus/data/eligibility/rules.yaml``, 法律援助法第三十一条);
- legal-aid decisions and means tests: the words the resident was shown (``bot/eligibility/data/flow.yaml``,
  ``result.decision`` / ``result.means_test``);
- handoff reasons: ``handoff.cards.REASONS`` (what the advisers' cards say);
- villages and towns: the service directory (``bot.console.analytics.Scope.places``).

A code with no name (rules that did not load, a code retired since) is shown as ``（未知：code）``, never bare.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHANNEL_NAMES", "TOPIC_NAMES", "Names", "load_names", "unknown"]

log = logging.getLogger(__name__)

TOPIC_NAMES = {"wages": "工资报酬", "support": "赡养抚养", "land": "土地承包", "dispute": "邻里债务家庭纠纷",
               "legal_aid": "法律援助", "other": "其他"}
CHANNEL_NAMES = {"web": "网页", "official_account": "公众号", "mini_program": "小程序", "wechat": "公众号",
                 "mp": "小程序"}


def unknown(code: str) -> str:
    """How a code without a name is shown."""
    return f"（未知：{code}）"


@dataclass(frozen=True, slots=True)
class Names:
    """Code → Chinese name, per kind of code."""

    matters: Mapping[str, str] = field(default_factory=dict)
    decisions: Mapping[str, str] = field(default_factory=dict)
    means_tests: Mapping[str, str] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    topics: Mapping[str, str] = field(default_factory=lambda: TOPIC_NAMES)
    channels: Mapping[str, str] = field(default_factory=lambda: CHANNEL_NAMES)

    def topic(self, code: str) -> str:
        return self.topics.get(code) or unknown(code)

    def channel(self, code: str) -> str:
        return self.channels.get(code) or unknown(code)

    def matter(self, code: str) -> str:
        return self.matters.get(code) or unknown(code)

    def decision(self, code: str) -> str:
        return self.decisions.get(code) or unknown(code)

    def means_test(self, code: str) -> str:
        return self.means_tests.get(code) or unknown(code)

    def reason(self, code: str) -> str:
        return self.reasons.get(code) or unknown(code)


def load_names(rules_dir: Path) -> Names:
    """The names, with the eligibility rules of ``rules_dir``; without them (logged) if they do not load."""
    from bot.eligibility.errors import RulesError
    from bot.eligibility.flow import load_flow
    from bot.eligibility.rules import load_rules
    from handoff.cards import REASONS

    try:
        rules = load_rules(rules_dir)
        flow = load_flow(rules)
    except (RulesError, ValueError, OSError) as exc:
        log.warning("analytics: eligibility rules not loaded (%s); matters are shown by code", type(exc).__name__)
        return Names(reasons=REASONS)
    return Names(matters={code: m.label for code, m in rules.matters.items()},
                 decisions={str(k): str(v) for k, v in flow.result["decision"].items()},
                 means_tests={str(k): str(v) for k, v in flow.result["means_test"].items()},
                 reasons=REASONS)

"""The hit test in plain words: what the bot understood, how sure it is, how well each result fits.

Editors decide from words (很相关 / 不太相关, 很有把握 / 拿不准); the numbers behind them (fused score, BM25,
vector similarity, calibrated confidence, Rasa's intent confidence) stay on the page behind 显示评分, for
whoever tunes retrieval. The bands follow the composer's own threshold (``AnswerComposer.min_confidence``):
below it the bot says it is not sure, so a result below it is called one the bot would not answer from.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DOCUMENT_KINDS", "INTENT_NAMES", "ENGINE_TROUBLE", "certainty", "intent_name", "relevance"]

# The Rasa project's intents (nlu/rasa/domain.yml) as an editor would say them.
INTENT_NAMES: Mapping[str, str] = {
    "wages": "工资报酬（欠薪）", "support": "赡养、抚养、扶养", "land": "土地承包", "dispute": "邻里、债务、家庭纠纷",
    "other_legal": "其他法律问题", "legal_aid": "法律援助", "human": "要求转人工", "hotline": "问 12348 热线",
    "greet": "打招呼", "goodbye": "告别", "thanks": "道谢", "affirm": "表示同意", "deny": "表示不同意",
    "inform": "提供信息", "out_of_scope": "和法律无关的话", "elig_answer": "回答法律援助自测的问题",
    "elig_why": "问为什么要问这个", "elig_back": "回到上一题", "elig_cancel": "不做自测了", "elig_resume": "继续自测",
    "elig_restart": "重新做自测", "elig_send": "提交法律援助预申请", "choose_topic": "选一个话题",
    "follow_up": "接着上一个回答追问", "details": "要看法条、步骤或去处", "where_to_go": "问去哪里办",
}
DOCUMENT_KINDS: Mapping[str, str] = {"article": "法条", "card": "答问卡片", "case": "案例"}
# Why Rasa gave no intent (``routes_tools._intent``), said plainly.
ENGINE_TROUBLE: Mapping[str, str] = {"TimeoutError": "5 秒内没有回应", "RasaUnavailable": "连接不上",
                                     "RasaResponseError": "回应的内容不对", "没有配置 Rasa": "没有配置"}


def intent_name(code: str) -> str:
    """The intent as an editor would say it; an intent added to the domain later still shows its code."""
    return INTENT_NAMES.get(code) or f"其他（{code}）"


def certainty(confidence: float) -> str:
    """How sure Rasa is of the intent."""
    if confidence >= 0.8:
        return "很有把握"
    if confidence >= 0.5:
        return "比较有把握"
    return "拿不准"


def relevance(confidence: float, threshold: float) -> str:
    """How well a result fits the question, against the composer's threshold."""
    if confidence >= max(0.6, threshold * 2):
        return "很相关"
    if confidence >= threshold:
        return "相关"
    return "不太相关（单凭它机器人不会作答）"

"""Eligibility records: every decision with the rules version that produced it, and pre-applications.

A pre-application is what the resident keeps and shows (a page opened by its unguessable token) and may send
to the legal-aid centre. It holds the answers as codes and words and the result as shown; when the resident
sends it and agrees (个人信息保护法 第十三条、第十四条: consent, asked in plain words), also a name and a phone
number the centre can call. Those are shown only on the case page of the staff who may open the case (the
phone masked until the person handling it reveals it), never on the page behind the token, and go with the
pre-application when it is erased (``bot.privacy``). No ID number is ever asked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.models import BotBase

__all__ = ["EligibilityDecision", "PreApplication"]


class EligibilityDecision(BotBase):
    """One decision of the engine: input, outcome and ``rules_version`` (which rules produced it)."""

    __tablename__ = "eligibility_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rules_version: Mapped[str] = mapped_column(String(64), index=True)
    province: Mapped[str] = mapped_column(String(40))
    matter: Mapped[str] = mapped_column(String(40))
    decision: Mapped[str] = mapped_column(String(20))
    means_test: Mapped[str] = mapped_column(String(20))
    basis: Mapped[list[str]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(20))  # "chat" | "web" | …
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class PreApplication(BotBase):
    """A resident's pre-application: the page behind ``token``, and whether it was sent to the centre."""

    __tablename__ = "eligibility_pre_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("eligibility_decisions.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str | None] = mapped_column(String(64), index=True)  # the dialogue's pseudonym, not an openid
    answers: Mapped[list[list[str]]] = mapped_column(JSON)  # [[question, answer in words], …]
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # the result as shown (see bot.eligibility.present)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    forwarded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    contact_name: Mapped[str | None] = mapped_column(String(40))  # given with consent when sending
    contact_phone: Mapped[str | None] = mapped_column(String(20), index=True)  # digits: 1xxxxxxxxxx or 0xxxxxxxxx
    consented_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    decision: Mapped[EligibilityDecision] = relationship()

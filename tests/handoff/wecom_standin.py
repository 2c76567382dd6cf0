"""The WeChat Work robot stand-in lives in ``handoff.simulator`` (the benchmark uses it too)."""

from handoff.simulator import RobotMessage, WeComStandIn

__all__ = ["RobotMessage", "WeComStandIn"]

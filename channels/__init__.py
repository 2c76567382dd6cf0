"""WeChat and web channels: official account, mini-program backend, web chat. Only here is wechatpy seen.

Empty until the conversation issue (#3) lands; nothing depends on it yet.
"""

__all__: list[str] = []

"""WeChat channels: the official account callback, the mini-program backend, the WeChat API client.

Only here is wechatpy seen. The app wires ``channels.official_account.official_account_routes`` and
``channels.mini_program.mini_program_routes`` with injected dependencies: a ``Conversation`` (the port
the channels call, below), a ``channels.storage.KeyValueStore`` shared by the workers and a
``channels.wechat_api.WeChatClient`` per app. Errors are drawn in ``channels.errors``. Importing this
package loads only the port, so the conversation service can implement it without loading WeChat code.
"""

from channels.ports import ChannelUser, Conversation

__all__ = ["ChannelUser", "Conversation"]

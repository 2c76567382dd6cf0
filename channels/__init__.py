"""WeChat channels: the official account callback, the mini-program backend, the WeChat API client.

Only here is wechatpy seen. The app wires ``channels.official_account.OfficialAccount`` and
``channels.mini_program.mini_program_routes`` with injected dependencies: a ``Conversation`` and an
``Outbox`` (the ports the channels call), a ``channels.inbox.Inbox`` (messages recorded before they are
worked on), a ``channels.storage.KeyValueStore`` shared by the workers and a
``channels.wechat_api.WeChatClient`` per app. Errors are drawn in ``channels.errors``. Importing this
package loads only the port, so the conversation service can implement it without loading WeChat code.
"""

from channels.ports import ChannelUser, Conversation, Outbox, Receipt

__all__ = ["ChannelUser", "Conversation", "Outbox", "Receipt"]

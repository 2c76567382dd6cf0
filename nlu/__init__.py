"""Understanding residents' questions: the Rasa 3.6 project (Chinese NLU, dialogue) and its client.

Empty until the conversation issue (#3) lands; nothing depends on it yet.
"""

__all__: list[str] = []

"""Understanding residents' messages: Rasa 3.6 (Chinese NLU and dialogue) and the app's side of it.

Owns the Rasa project in ``nlu/rasa`` and the code that trains it, runs it as a loopback process and talks
to it over HTTP. Rasa lives in its own virtualenv (``.venv-rasa``, Python 3.10, built by
``scripts/bootstrap-rasa.sh``); nothing here imports it. The custom actions named in
``nlu/rasa/domain.yml`` are served by the app (rasa-sdk webhook protocol).
"""

from nlu._environment import action_secret
from nlu.client import Entity, Parse, RasaClient
from nlu.errors import NluError, RasaUnavailable
from nlu.layout import RasaLayout
from nlu.process import RasaServer
from nlu.project import train_if_changed

__all__ = [
    "Entity",
    "NluError",
    "Parse",
    "RasaClient",
    "RasaLayout",
    "RasaServer",
    "RasaUnavailable",
    "action_secret",
    "train_if_changed",
]

"""Where the Rasa side of Lawline lives on disk: the project, its virtualenv, models, logs, trackers.

Rasa runs from the repository root (the relative ``dictionary_path`` in ``nlu/rasa/config.yml`` assumes
it); what Rasa writes goes under ``<var>/rasa/`` (``var/`` by default, ``LAWLINE_VAR_DIR`` in the app).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nlu.errors import RasaNotInstalled

__all__ = ["RasaLayout"]

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class RasaLayout:
    """Paths of the Rasa project and of everything Rasa reads or writes."""

    root: Path
    project_dir: Path
    rasa_bin: Path
    legal_terms: Path
    var_dir: Path

    @classmethod
    def default(cls, var_dir: Path | None = None, root: Path | None = None) -> RasaLayout:
        """The layout of this checkout; ``var_dir`` is the app's ``LAWLINE_VAR_DIR`` (default ``var/``)."""
        base = (root or _ROOT).resolve()
        return cls(
            root=base,
            project_dir=base / "nlu" / "rasa",
            rasa_bin=base / ".venv-rasa" / "bin" / "rasa",
            legal_terms=base / "retrieval" / "data" / "legal_terms.txt",
            var_dir=(var_dir or base / "var").resolve(),
        )

    @property
    def rasa_var(self) -> Path:
        """Everything Rasa writes: models, log, tracker database."""
        return self.var_dir / "rasa"

    @property
    def models_dir(self) -> Path:
        return self.rasa_var / "models"

    @property
    def log_file(self) -> Path:
        return self.rasa_var / "rasa.log"

    @property
    def tracker_db(self) -> Path:
        """The embedded SQLite tracker store used when no database server is configured."""
        return self.rasa_var / "tracker.db"

    @property
    def endpoints(self) -> Path:
        return self.project_dir / "endpoints.yml"

    @property
    def credentials(self) -> Path:
        return self.project_dir / "credentials.yml"

    @property
    def rasa_python(self) -> Path:
        """The interpreter of Rasa's virtualenv (next to the ``rasa`` executable)."""
        return self.rasa_bin.parent / "python"

    @property
    def launcher(self) -> Path:
        """``rasa`` with Lawline's two measured fixes installed first (see that file); used to serve."""
        return self.root / "nlu" / "rasa_runtime" / "lawline_rasa.py"

    def require_rasa(self) -> Path:
        """The ``rasa`` executable, or ``RasaNotInstalled`` naming the bootstrap script."""
        if not self.rasa_bin.is_file():
            raise RasaNotInstalled(self.rasa_bin)
        return self.rasa_bin

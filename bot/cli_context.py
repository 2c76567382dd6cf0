"""What every ``lawline`` command shares: the settings read once, a database session factory, the rules."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click

from bot.settings import Settings, SettingsError, load_settings

__all__ = ["RULES_OPTION", "CliContext", "load_eligibility_rules", "pass_context"]


class CliContext:
    """The settings (read on first use, a bad one is a one-line error) and sessions of one command."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(f"bad setting {exc}") from exc
            logging.basicConfig(level=self._settings.log_level, format="%(levelname)s %(name)s: %(message)s")
            for noisy in ("alembic", "sentence_transformers", "bm25s", "httpx", "jieba"):
                logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
        return self._settings

    def sessions(self) -> Any:
        from bot.db import make_engine, make_sessions, upgrade_schema

        engine = make_engine(self.settings.database_url)
        upgrade_schema(engine)
        return make_sessions(engine)


pass_context = click.make_pass_decorator(CliContext, ensure=True)


def load_eligibility_rules(rules_dir: Path | None) -> Any:
    """The eligibility rules of ``rules_dir``, else of the corpus folder, else the shipped ones."""
    from bot.eligibility import DEFAULT_RULES_DIR, RulesError, load_rules
    from bot.eligibility.rules import rules_folder

    if rules_dir is None:  # not load_settings(): the audit command must not depend on unrelated settings
        corpus = os.environ.get("LAWLINE_CORPUS_DIR")
        rules_dir = rules_folder(Path(corpus).expanduser()) if corpus else DEFAULT_RULES_DIR
    try:
        return load_rules(rules_dir)
    except RulesError as exc:
        raise click.ClickException(f"eligibility rules: {exc}") from exc


RULES_OPTION = click.option("--rules", "rules_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                            help="Rules folder (default: the one the app uses: $LAWLINE_CORPUS_DIR/eligibility "
                                 "when it has rules, else corpus/data/eligibility).")

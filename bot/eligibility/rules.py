"""The legal-aid rules as data: load ``corpus/data/eligibility`` (``rules.yaml`` + ``provinces/*.yaml``) and check it.

Knowledge editors change the YAML, not this module (see the folder's README.md). Loading validates every
code, basis string and template, so a broken file fails at start with its name and the reason, never in
the middle of a resident's check. ``rules_version`` is the declared ``version`` plus a digest of every
rules file: a decision always records exactly which rules produced it, even if an editor forgot to bump.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.eligibility.errors import RulesError

__all__ = [
    "DEFAULT_RULES_DIR",
    "MATTER_CODES",
    "STATUS_CODES",
    "URGENCY_CODES",
    "HardshipStandard",
    "Matter",
    "ProvinceRules",
    "Rules",
    "Situation",
    "Threshold",
    "load_rules",
    "rules_files",
    "rules_folder",
]

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "corpus" / "data" / "eligibility"

# The audit interface's codes (issue #4): the rules must define exactly these.
MATTER_CODES = (
    "state_compensation", "social_insurance_or_assistance", "survivor_pension", "support_payment",
    "labor_relation_or_remuneration", "civil_capacity", "personal_injury", "environmental_damage", "land_contract",
    "other_civil", "criminal_defense",
)
STATUS_CODES = (
    "hero_martyr_relative", "good_samaritan", "retrial_acquittal", "abuse_or_domestic_violence_victim",
    "minor_without_income", "elderly_without_income", "disabled_without_income", "social_assistance_recipient",
    "judicial_aid_recipient", "preferential_care_recipient", "migrant_worker",
)
URGENCY_CODES = ("deadline_within_7_days", "preservation_needed")

_CN = "零一二三四五六七八九十百"
BASIS_PATTERN = re.compile(
    rf"^(法律援助法|[\u4e00-\u9fff]{{2,20}}条例)第[{_CN}]+条(第[{_CN}]+款)?(第[{_CN}]+项)?$"
)
# Placeholders a template may use; the engine always supplies all of them.
_PLACEHOLDERS = frozenset({"basis", "label", "province", "income", "threshold", "area", "source", "reason"})


@dataclass(frozen=True, slots=True)
class Matter:
    """A kind of matter (法律援助法第三十一条 and the criminal-defense route)."""

    code: str
    label: str
    basis: str | None
    criminal: bool = False


@dataclass(frozen=True, slots=True)
class Situation:
    """A status that lifts or waives the means test, for the matters it concerns (``None``: every matter)."""

    code: str
    label: str
    basis: str
    matters: frozenset[str] | None
    explain: str = ""
    work_injury_matters: frozenset[str] = frozenset()

    def applies_to(self, matter: str) -> bool:
        return self.matters is None or matter in self.matters


@dataclass(frozen=True, slots=True)
class Threshold:
    """A configured hardship figure: the highest household monthly income per person that still counts."""

    area: str
    monthly_income_per_capita: float
    source: str
    effective: dt.date


@dataclass(frozen=True, slots=True)
class HardshipStandard:
    """A province's financial-hardship standard (法律援助法第三十四条): its formula and any known figures."""

    basis: str
    formula: str
    effective: dt.date
    not_configured_reason: str
    thresholds: tuple[Threshold, ...] = ()

    def threshold_for(self, area: str | None, on: dt.date) -> Threshold | None:
        """The figure for ``area`` (or the province-wide one, area ``全省``) in force on ``on``."""
        candidates = [t for t in self.thresholds if t.effective <= on and (t.area == area or t.area == "全省")]
        if not candidates:
            return None
        exact = [t for t in candidates if t.area == area]
        return max(exact or candidates, key=lambda t: t.effective)


@dataclass(frozen=True, slots=True)
class ExtraMatter:
    """A matter a provincial regulation adds to the national list (法律援助法第三十一条第九项)."""

    code: str
    basis: str
    explain: str


@dataclass(frozen=True, slots=True)
class ProvinceRules:
    """One province's configuration; ``configured`` is False until an editor entered its regulation."""

    code: str
    name: str
    aliases: tuple[str, ...]
    configured: bool
    not_configured_reason: str
    regulation: Mapping[str, Any] | None
    hardship: HardshipStandard | None
    extra_matters: Mapping[str, ExtraMatter]
    extra_no_means_test: Mapping[str, Situation]
    file: str
    order: int = 100


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything the engine reads; immutable, loaded once."""

    version: str
    rules_version: str
    reviewed_by: str | None
    matters: Mapping[str, Matter]
    no_means_test: Mapping[str, Situation]
    means_check_waived: Mapping[str, Situation]
    criminal_mandatory: Mapping[str, Situation]
    urgency: Mapping[str, Situation]
    texts: Mapping[str, str]
    bases: Mapping[str, str]
    provinces: Mapping[str, ProvinceRules]
    _aliases: Mapping[str, str] = field(default_factory=dict)

    def province(self, name: str) -> ProvinceRules | None:
        """The province called ``name`` (山东, 山东省 …), or None."""
        code = self._aliases.get(name.strip())
        return self.provinces[code] if code is not None else None

    def text(self, key: str, **values: object) -> str:
        """A curated sentence with its placeholders filled."""
        return self.texts[key].format_map({k: "" for k in _PLACEHOLDERS} | values)


# ---- loading ------------------------------------------------------------------------------------

def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(str(path), f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise RulesError(str(path), f"not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise RulesError(str(path), "must be a mapping of keys to values")
    return data


class _Reader:
    """Typed access to one file's keys, failing with the file's name and the key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, reason: str) -> RulesError:
        return RulesError(self.file, reason)

    def mapping(self, data: Mapping[str, Any], key: str, *, optional: bool = False) -> dict[str, Any]:
        value = data.get(key)
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{key} must be a mapping")
        return value

    def text(self, data: Mapping[str, Any], key: str, *, optional: bool = False) -> str:
        value = data.get(key)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key} must be non-empty text")
        return value.strip()

    def basis(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(data, key)
        if not BASIS_PATTERN.match(value):
            raise self.fail(f"{where}.{key}: {value!r} is not a basis like 法律援助法第三十一条第四项")
        return value

    def template(self, value: str, where: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise self.fail(f"{where}: unknown placeholder {{{sorted(unknown)[0]}}}")
        return value

    def day(self, data: Mapping[str, Any], key: str, where: str) -> dt.date:
        value = data.get(key)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(f"{where}.{key} must be a date YYYY-MM-DD")

    def codes(self, value: Any, where: str, allowed: tuple[str, ...]) -> frozenset[str] | None:
        if value == "all":
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where} must be `all` or a list of matter codes")
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise self.fail(f"{where}: unknown matter code {unknown[0]!r}")
        return frozenset(value)


def _situations(reader: _Reader, data: Mapping[str, Any], key: str, *, optional: bool = False) -> dict[str, Situation]:
    result: dict[str, Situation] = {}
    for code, entry in reader.mapping(data, key, optional=optional).items():
        where = f"{key}.{code}"
        if code not in STATUS_CODES:
            raise reader.fail(f"{where}: unknown status code {code!r} (known: {', '.join(STATUS_CODES)})")
        if not isinstance(entry, dict):
            raise reader.fail(f"{where} must be a mapping")
        matters = reader.codes(entry.get("matters", "all"), f"{where}.matters", MATTER_CODES)
        injury = reader.codes(entry.get("work_injury_matters", []), f"{where}.work_injury_matters", MATTER_CODES)
        result[code] = Situation(
            code=code, label=reader.text(entry, "label", optional=True), basis=reader.basis(entry, "basis", where),
            matters=matters, explain=reader.template(reader.text(entry, "explain", optional=True), where),
            work_injury_matters=injury or frozenset(),
        )
    return result


def _national(reader: _Reader, data: Mapping[str, Any]) -> dict[str, Any]:
    matters: dict[str, Matter] = {}
    for code, entry in reader.mapping(data, "matters").items():
        if code not in MATTER_CODES or not isinstance(entry, dict):
            raise reader.fail(f"matters.{code}: unknown matter code or not a mapping")
        basis = reader.basis(entry, "basis", f"matters.{code}") if entry.get("basis") is not None else None
        matters[code] = Matter(code, reader.text(entry, "label"), basis, bool(entry.get("criminal", False)))
    missing = [c for c in MATTER_CODES if c not in matters]
    if missing:
        raise reader.fail(f"matters: missing {missing[0]!r}")
    no_means_test = _situations(reader, data, "no_means_test")
    waived = _situations(reader, data, "means_check_waived")
    mandatory = _situations(reader, data, "criminal_mandatory")
    statuses = set(no_means_test) | set(waived)
    if statuses != set(STATUS_CODES) or set(no_means_test) & set(waived):
        raise reader.fail("no_means_test and means_check_waived must together name every status code once")
    urgency: dict[str, Situation] = {}
    for code, entry in reader.mapping(data, "urgency").items():
        if code not in URGENCY_CODES or not isinstance(entry, dict):
            raise reader.fail(f"urgency.{code}: unknown urgency code or not a mapping")
        urgency[code] = Situation(code, reader.text(entry, "label"), reader.basis(entry, "basis", f"urgency.{code}"),
                                  None)
    has_lawyer = reader.mapping(data, "has_lawyer")
    retrial = reader.mapping(data, "retrial")
    means = reader.mapping(data, "means_test")
    bases = {
        "has_lawyer": reader.basis(has_lawyer, "basis", "has_lawyer"),
        "has_lawyer_criminal": reader.basis(has_lawyer, "criminal_basis", "has_lawyer"),
        "retrial": reader.basis(retrial, "basis", "retrial"),
        "standard": reader.basis(means, "standard_basis", "means_test"),
        "declaration": reader.basis(means, "declaration_basis", "means_test"),
        "where_to_apply": reader.basis(data, "where_to_apply_basis", "rules"),
        "review": reader.basis(data, "review_basis", "rules"),
        "not_covered": reader.basis(data, "not_covered_basis", "rules"),
        "other_matters": reader.basis(data, "other_matters_basis", "rules"),
    }
    texts = {"has_lawyer": reader.text(has_lawyer, "explain"), "retrial": reader.text(retrial, "explain")}
    for key in ("passed_explain", "failed_explain", "income_unknown_explain", "standard_unknown_explain",
                "criminal_failed_explain"):
        texts[key] = reader.text(means, key)
    for key in ("covered_explain", "not_covered_explain", "criminal_explain", "waived_explain",
                "migrant_injury_unknown_explain", "urgency_explain", "province_unknown_matter_explain", "disclaimer"):
        texts[key] = reader.text(data, key)
    for key, value in texts.items():
        reader.template(value, key)
    return {"matters": matters, "no_means_test": no_means_test, "means_check_waived": waived,
            "criminal_mandatory": mandatory, "urgency": urgency, "texts": texts, "bases": bases}


def _hardship(reader: _Reader, entry: Mapping[str, Any]) -> HardshipStandard:
    thresholds = []
    raw = entry.get("thresholds") or []
    if not isinstance(raw, list):
        raise reader.fail("hardship_standard.thresholds must be a list")
    for number, item in enumerate(raw, 1):
        where = f"hardship_standard.thresholds[{number}]"
        if not isinstance(item, dict):
            raise reader.fail(f"{where} must be a mapping")
        amount = item.get("monthly_income_per_capita")
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 < amount < 100000:
            raise reader.fail(f"{where}.monthly_income_per_capita must be a number of yuan between 0 and 100000")
        thresholds.append(Threshold(reader.text(item, "area"), float(amount), reader.text(item, "source"),
                                    reader.day(item, "effective", where)))
    return HardshipStandard(
        basis=reader.basis(entry, "basis", "hardship_standard"), formula=reader.text(entry, "formula"),
        effective=reader.day(entry, "effective", "hardship_standard"),
        not_configured_reason=reader.text(entry, "not_configured_reason"), thresholds=tuple(thresholds),
    )


def _province(path: Path) -> ProvinceRules:
    reader = _Reader(str(path))
    data = _read_yaml(path)
    code = reader.text(data, "province")
    status = data.get("status")
    if status not in ("configured", "not_configured"):
        raise reader.fail("status must be `configured` or `not_configured`")
    configured = status == "configured"
    hardship_entry = data.get("hardship_standard")
    if configured and not isinstance(hardship_entry, dict):
        raise reader.fail("a configured province needs hardship_standard (formula, basis, effective)")
    hardship = _hardship(reader, hardship_entry) if isinstance(hardship_entry, dict) else None
    extra: dict[str, ExtraMatter] = {}
    for matter, entry in reader.mapping(data, "extra_matters", optional=True).items():
        if matter not in MATTER_CODES or not isinstance(entry, dict):
            raise reader.fail(f"extra_matters.{matter}: unknown matter code or not a mapping")
        extra[matter] = ExtraMatter(matter, reader.basis(entry, "basis", f"extra_matters.{matter}"),
                                    reader.template(reader.text(entry, "explain"), f"extra_matters.{matter}"))
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise reader.fail("aliases must be a list of names")
    reason = reader.text(data, "not_configured_reason") if not configured else ""
    regulation = data.get("regulation")
    order = data.get("order", 100)
    if isinstance(order, bool) or not isinstance(order, int):
        raise reader.fail("order must be a whole number")
    return ProvinceRules(
        code=code, name=reader.text(data, "name"), aliases=tuple(aliases), configured=configured,
        not_configured_reason=reason, regulation=regulation if isinstance(regulation, dict) else None,
        hardship=hardship, extra_matters=extra,
        extra_no_means_test=_situations(reader, data, "extra_no_means_test", optional=True), file=path.name,
        order=order,
    )


def rules_folder(corpus_dir: Path) -> Path:
    """The rules folder: ``<LAWLINE_CORPUS_DIR>/eligibility`` when it has rules, else the shipped one."""
    in_corpus = corpus_dir / "eligibility"
    return in_corpus if (in_corpus / "rules.yaml").is_file() else DEFAULT_RULES_DIR


def rules_files(folder: Path) -> list[Path]:
    """The files the rules are read from (what an editor changes)."""
    return [folder / "rules.yaml", *sorted((folder / "provinces").glob("*.yaml"))]


def load_rules(folder: Path = DEFAULT_RULES_DIR) -> Rules:
    """Load and check the rules in ``folder``; raises ``RulesError`` naming the file and the problem."""
    main = folder / "rules.yaml"
    reader = _Reader(str(main))
    data = _read_yaml(main)
    version = data.get("version")
    if not isinstance(version, str | int | float) or not str(version).strip():
        raise reader.fail("version must be set (e.g. 2026-11-23.1)")
    national = _national(reader, data)
    province_files = sorted((folder / "provinces").glob("*.yaml"))
    if not province_files:
        raise RulesError(str(folder / "provinces"), "no province files")
    digest = hashlib.sha256()
    for path in [main, *province_files]:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    provinces: dict[str, ProvinceRules] = {}
    aliases: dict[str, str] = {}
    for province in sorted((_province(path) for path in province_files), key=lambda p: (p.order, p.code)):
        path = folder / "provinces" / province.file
        if province.code in provinces:
            raise RulesError(str(path), f"province {province.code} is defined twice")
        provinces[province.code] = province
        for name in (province.code, province.name, *province.aliases):
            if aliases.setdefault(name, province.code) != province.code:
                raise RulesError(str(path), f"name {name} is used by two provinces")
    reviewed = data.get("reviewed_by")
    return Rules(
        version=str(version), rules_version=f"{version}+{digest.hexdigest()[:8]}",
        reviewed_by=str(reviewed) if reviewed else None, provinces=provinces, _aliases=aliases, **national,
    )

"""Which combinations do not apply (n/a), from a data table: ``applicability.toml``, plus the user's.

A rule names values of cell fields (globs; ``!glob`` for "any other") and a few derived
conditions (the nightly's date, a release torch's version, an arch list lacking the GPU);
a cell matching every key of a rule is not applicable, with the rule's reason and source.
Nothing here touches the network: ``nightly:latest`` is dated today, ``latest~N`` N days
earlier, the best a plan can know before the index is read.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import importlib.resources
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from vllm_matrix.errors import InputError
from vllm_matrix.matrix.specs import SpecError, parse_date, parse_source, parse_torch

FIELDS = ("python", "torch", "cuda", "arch", "flash_attn", "vllm", "gpu", "dtype")
DERIVED = ("arch_without", "nightly_after", "nightly_before", "torch_release")
Values = dict[str, Any]


@dataclass(frozen=True)
class Rule:
    """One row of the table: the keys a cell must match, and why such a cell does not apply."""

    id: str
    match: tuple[tuple[str, tuple[Any, ...]], ...]
    reason: str
    source: str
    off: bool = False

    def explain(self) -> str:
        return f"{self.reason} ({self.source})"

    def matches(self, values: Values, today: dt.date) -> bool:
        """Whether a cell with these field values is one this rule rules out."""
        return not self.off and all(_matches(key, wanted, values, today) for key, wanted in self.match)


@dataclass(frozen=True)
class Table:
    """Every rule, and the values of cuda and flash_attn the field has ever had."""

    rules: tuple[Rule, ...]
    known: dict[str, tuple[Any, ...]]

    def why_not(self, values: Values, today: dt.date | None = None) -> str | None:
        """The reason a cell with these field values does not apply, or None when it does."""
        day = today or dt.date.today()
        return next((rule.explain() for rule in self.rules if rule.matches(values, day)), None)

    def unknown(self, field: str, value: Any) -> bool:
        """Whether ``value`` is not among the known values of ``field`` (fields without a list: never)."""
        known = self.known.get(field)
        if known is None or value is None:
            return False
        return not any(_glob(value, k) if isinstance(k, str) else value == k for k in known)


def load(extra: Sequence[Path] = ()) -> Table:
    """The built-in table, then the user's files: their rules are added, their known values too."""
    table = builtin()
    for path in extra:
        more = parse(_read(path), str(path))
        known = {k: table.known.get(k, ()) + v for k, v in more.known.items()}
        rules = {rule.id: rule for rule in table.rules} | {rule.id: rule for rule in more.rules}
        table = Table(tuple(rules.values()), {**table.known, **known})
    return table


@functools.cache
def builtin() -> Table:
    """The table shipped in the package (``vllm_matrix/matrix/applicability.toml``)."""
    text = importlib.resources.files("vllm_matrix.matrix").joinpath("applicability.toml").read_text("utf-8")
    return parse(text, "built-in applicability.toml")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the applicability table ({exc.strerror or exc})") from None


def parse(text: str, where: str) -> Table:
    """Validate one table file; ``where`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    unknown = set(data) - {"rule", "known"}
    if unknown:
        raise InputError(f"{where}: unknown table {sorted(unknown)[0]!r} (expected [[rule]] or [known])")
    rules = data.get("rule", [])
    if not isinstance(rules, list):
        raise InputError(f"{where}: 'rule' must be an array of tables ([[rule]])")
    return Table(tuple(_rule(raw, f"{where}: rule {i + 1}") for i, raw in enumerate(rules)),
                 _known(data.get("known", {}), where))  # fmt: skip


def _known(raw: Any, where: str) -> dict[str, tuple[Any, ...]]:
    if not isinstance(raw, dict) or set(raw) - {"cuda", "flash_attn"}:
        raise InputError(f"{where}: [known] takes lists for 'cuda' and 'flash_attn'")
    return {key: tuple(value) for key, value in raw.items() if isinstance(value, list)}


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: each [[rule]] must be a table")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        raise InputError(f"{where}: 'id' is required (it names the rule, so a file can replace it)")
    off = raw.get("off", False)
    if not isinstance(off, bool):
        raise InputError(f"{where}: 'off' must be true or false")
    if off:
        return Rule(rule_id, (), "", "", off=True)
    for key in ("reason", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise InputError(f"{where}: '{key}' is required (one line of text)")
    keys = set(raw) - {"id", "off", "reason", "source"}
    bad = sorted(keys - set(FIELDS) - set(DERIVED))
    if bad:
        raise InputError(f"{where}: unknown key {bad[0]!r} (expected {', '.join(FIELDS + DERIVED)})")
    if not keys:
        raise InputError(f"{where}: a rule with no keys would rule out every cell")
    match = tuple((key, _check(key, raw[key], where)) for key in sorted(keys))
    return Rule(rule_id, match, raw["reason"].strip(), raw["source"].strip())


def _check(key: str, value: Any, where: str) -> tuple[Any, ...]:
    values = tuple(value) if isinstance(value, list) else (value,)
    try:
        for item in values:
            if key in ("nightly_after", "nightly_before"):
                parse_date(str(item))
            elif key == "torch_release":
                SpecifierSet(str(item))
    except (SpecError, InvalidSpecifier) as exc:
        raise InputError(f"{where}: {key}: {exc}") from None
    return values


def _matches(key: str, wanted: tuple[Any, ...], values: Values, today: dt.date) -> bool:
    if key == "arch_without":
        return _arch_without(values, wanted)
    if key in ("nightly_after", "nightly_before"):
        day = nightly_date(str(values.get("torch", "")), today)
        if day is None:
            return False
        bound = [parse_date(str(w)) for w in wanted]
        return any(day > b for b in bound) if key == "nightly_after" else any(day < b for b in bound)
    if key == "torch_release":
        version = _release(str(values.get("torch", "")))
        return version is not None and any(SpecifierSet(str(w)).contains(version, True) for w in wanted)
    return any(_value_matches(values.get(key), w) for w in wanted)


def _value_matches(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and wanted.startswith("!"):
        return value is not None and not _glob(value, wanted[1:])
    if isinstance(wanted, str):
        return value is not None and _glob(value, wanted)
    return bool(value == wanted)


def _glob(value: Any, pattern: str) -> bool:
    return fnmatch.fnmatchcase(str(value), pattern)


def _arch_without(values: Values, wanted: tuple[Any, ...]) -> bool:
    """The cell builds vLLM from source with an arch list that has no entry matching any of ``wanted``.

    Not the toolchain probe: running code built for another GPU is what it is for.
    """
    if not parse_source(str(values.get("vllm", ""))).vllm_tree:
        return False
    entries = [a for a in str(values.get("arch") or "").split(";") if a]
    return bool(entries) and not any(_glob(a, str(w)) for a in entries for w in wanted)


def nightly_date(torch: str, today: dt.date) -> dt.date | None:
    """The date a torch spec's nightly has (latest: today; latest~N: N days before); None: a release."""
    try:
        spec = parse_torch(torch)
    except SpecError:
        return None
    if spec.kind == "date":
        return spec.date
    if spec.kind == "latest":
        return today - dt.timedelta(days=spec.back)
    return None


def _release(torch: str) -> Version | None:
    try:
        spec = parse_torch(torch)
        return Version(spec.version) if spec.kind == "release" else None
    except (SpecError, InvalidVersion):
        return None

"""The failure catalogue: classes, their stages, regex signatures, priorities and hints.

The built-in catalogue is the package data file ``catalogue.toml`` (its header
documents the format). Users add files of the same format, named in
matrix.toml (``[classify] catalogues``) or on the command line; a class of the
same name as a built-in one adds its patterns and rejects to it and replaces
the other keys it sets. A malformed file is an ``InputError`` naming the file
and the class.

Stages are the runner's (``STAGES``); the words of the reference table
(install, configure, import, kernel, ...) are accepted and mapped onto them
(``STAGE_WORDS``).
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vllm_matrix.errors import InputError
from vllm_matrix.matrix.names import STAGES

# The stage words of the reference failure table, mapped onto the runner's stages.
STAGE_WORDS: dict[str, tuple[str, ...]] = {
    "install": ("venv", "torch", "prepare", "build"),
    "configure": ("build",),  # CMake runs inside the build stage's `uv pip install`
    "import": ("verify",),
    "kernel": ("suites",),
    "kernel check": ("suites",),
    "engine init": ("suites",),
    "generation": ("suites",),
    "run": ("suites",),
    "any": STAGES,
}

_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_CLASS_KEYS = {
    "name", "stages", "priority", "hint", "hints", "patterns", "reject", "heading", "prefer", "after", "note",
}  # fmt: skip
_OTHER_KEYS = {"error", "ignore", "prefix", "heading", "first"}
_PATTERN_LISTS = ("patterns", "reject", "heading", "prefer")  # keys whose lists add up when merged
NEVER = re.compile(r"(?!)")


@dataclass(frozen=True)
class Hint:
    """A hint that replaces its class's own when an evidence line matches ``when``."""

    when: re.Pattern[str]
    hint: str


@dataclass(frozen=True)
class Signature:
    """One failure class (or note) as the catalogue defines it."""

    name: str
    stages: frozenset[str]
    priority: int
    hint: str
    patterns: tuple[re.Pattern[str], ...]
    reject: tuple[re.Pattern[str], ...] = ()
    after: int = 0
    note: bool = False
    heading: tuple[re.Pattern[str], ...] = ()
    prefer: tuple[re.Pattern[str], ...] = ()
    hints: tuple[Hint, ...] = ()
    # the keys its file set (a user class merged into a built-in one replaces only these)
    set_keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def applies(self, stage: str | None) -> bool:
        """Whether the class can explain a failure of ``stage`` (None: any stage)."""
        return stage is None or stage in self.stages

    def rejects(self, line: str) -> bool:
        return any(r.search(line) for r in self.reject)

    def is_heading(self, line: str) -> bool:
        return any(h.search(line) for h in self.heading)

    def hint_for(self, evidence: Sequence[str]) -> str:
        """The first of ``hints`` whose ``when`` matches an evidence line, else the class's hint."""
        for rule in self.hints:
            if any(rule.when.search(line) for line in evidence):
                return rule.hint
        return self.hint


@dataclass(frozen=True)
class Catalogue:
    """Every signature, plus the ``[other]`` rules: error-looking lines, trailers, line prefixes."""

    signatures: tuple[Signature, ...]
    error_line: re.Pattern[str]
    boilerplate: tuple[re.Pattern[str], ...]
    prefixes: tuple[re.Pattern[str], ...] = ()
    heading: tuple[re.Pattern[str], ...] = ()
    first_error: tuple[re.Pattern[str], ...] = ()

    def failures(self, stage: str | None) -> list[Signature]:
        return [s for s in self.signatures if not s.note and s.applies(stage)]

    def notes(self, stage: str | None) -> list[Signature]:
        return [s for s in self.signatures if s.note and s.applies(stage)]

    @functools.cached_property
    def prefix(self) -> re.Pattern[str] | None:
        """One regex for any run of the line prefixes (timestamps, docker steps, process tags)."""
        if not self.prefixes:
            return None
        return re.compile("(?:" + "|".join(f"(?:{p.pattern})" for p in self.prefixes) + ")+")

    def without_prefix(self, line: str) -> str:
        """``line`` without its leading prefixes (the same object when it has none)."""
        prefix = self.prefix
        found = prefix.match(line) if prefix is not None else None
        return line[found.end() :] if found is not None and found.end() else line

    def is_boilerplate(self, line: str) -> bool:
        """A tool's trailer (``[other] ignore``), with or without its line prefixes."""
        bare = self.without_prefix(line)
        return any(b.search(line) or (bare is not line and b.search(bare)) for b in self.boilerplate)


def check_stage(stage: str | None) -> str | None:
    """``stage`` if it is one of ``STAGES`` (or None), else an InputError listing them."""
    if stage is not None and stage not in STAGES:
        raise InputError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
    return stage


def load(extra: Sequence[Path] = ()) -> Catalogue:
    """The built-in catalogue merged with the user's files, in order (read afresh each call)."""
    cat = builtin()
    for path in extra:
        cat = merge(cat, parse(_read(Path(path)), str(path)))
    return cat


@functools.cache
def builtin() -> Catalogue:
    """The catalogue shipped in the package (``vllm_matrix/catalogue.toml``)."""
    text = (
        importlib.resources.files("vllm_matrix.classify")
        .joinpath("catalogue.toml")
        .read_text(encoding="utf-8")
    )
    return parse(text, "built-in catalogue.toml")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the catalogue ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the catalogue is not UTF-8 text") from None


def parse(text: str, where: str) -> Catalogue:
    """Validate one catalogue file's text; ``where`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    unknown = set(data) - {"class", "other"}
    if unknown:
        raise InputError(f"{where}: unknown table {sorted(unknown)[0]!r} (expected [[class]] or [other])")
    other = data.get("other", {})
    if not isinstance(other, dict) or set(other) - _OTHER_KEYS:
        raise InputError(f"{where}: [other] takes only {', '.join(repr(k) for k in sorted(_OTHER_KEYS))}")
    classes = data.get("class", [])
    if not isinstance(classes, list):
        raise InputError(f"{where}: 'class' must be an array of tables ([[class]])")
    sigs = tuple(_signature(raw, where) for raw in classes)
    error = _regex(other["error"], where, "[other] error") if "error" in other else NEVER
    lists = {key: _regexes(other, key, where, "[other]") for key in ("ignore", "prefix", "heading", "first")}
    return Catalogue(sigs, error, lists["ignore"], lists["prefix"], lists["heading"], lists["first"])


def merge(base: Catalogue, extra: Catalogue) -> Catalogue:
    """``base`` with ``extra``'s classes added or merged in by name; ``[other]`` lists add up."""
    by_name = {s.name: s for s in base.signatures}
    for sig in extra.signatures:
        old = by_name.get(sig.name)
        by_name[sig.name] = sig if old is None else _merged(old, sig)
    error = base.error_line if extra.error_line is NEVER else extra.error_line
    return Catalogue(
        tuple(by_name.values()),
        error,
        base.boilerplate + extra.boilerplate,
        base.prefixes + extra.prefixes,
        base.heading + extra.heading,
        base.first_error + extra.first_error,
    )


def _merged(old: Signature, new: Signature) -> Signature:
    """A user class extending a built-in one: pattern lists add up, the user's hints come first,
    the other keys it sets replace the built-in ones."""
    kept = {*_PATTERN_LISTS, "hints"}
    changes: dict[str, Any] = {k: getattr(new, k) for k in new.set_keys if k not in kept}
    for key in _PATTERN_LISTS:
        changes[key] = getattr(old, key) + getattr(new, key)
    return replace(old, hints=new.hints + old.hints, **changes)


def _signature(raw: Any, where: str) -> Signature:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: each [[class]] must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "OTHER":
        raise InputError(f"{where}: class name {name!r}: expected UPPER_SNAKE_CASE, not OTHER")
    label = f"class {name}"
    unknown = set(raw) - _CLASS_KEYS
    if unknown:
        raise InputError(f"{where}: {label}: unknown key {sorted(unknown)[0]!r}")
    return Signature(
        name=name,
        stages=_stages(raw, where, label),
        priority=_int(raw, "priority", 50, where, label),
        hint=_hint(raw, where, label),
        patterns=_regexes(raw, "patterns", where, label),
        reject=_regexes(raw, "reject", where, label),
        after=_int(raw, "after", 0, where, label),
        note=_bool(raw, "note", where, label),
        heading=_regexes(raw, "heading", where, label),
        prefer=_regexes(raw, "prefer", where, label),
        hints=_hints(raw, where, label),
        set_keys=frozenset(raw) - {"name"},
    )


def _regexes(raw: dict[str, Any], key: str, where: str, label: str) -> tuple[re.Pattern[str], ...]:
    return tuple(_regex(p, where, label) for p in _strings(raw, key, where, label))


def _hints(raw: dict[str, Any], where: str, label: str) -> tuple[Hint, ...]:
    """``hints = [{ when = 'regex', hint = "..." }, ...]``: hints for what the evidence shows."""
    value = raw.get("hints", [])
    if not isinstance(value, list):
        raise InputError(f"{where}: {label}: 'hints' must be a list of {{ when = '...', hint = '...' }}")
    out = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"when", "hint"} or not isinstance(item["when"], str):
            raise InputError(
                f"{where}: {label}: each of 'hints' must be {{ when = '<regex>', hint = '...' }}"
            )
        out.append(Hint(_regex(item["when"], where, label), _hint(item, where, label)))
    return tuple(out)


def _stages(raw: dict[str, Any], where: str, label: str) -> frozenset[str]:
    words = _strings(raw, "stages", where, label)
    out: set[str] = set()
    for word in words:
        if word in STAGES:
            out.add(word)
        elif word in STAGE_WORDS:
            out.update(STAGE_WORDS[word])
        else:
            known = ", ".join([*STAGES, *STAGE_WORDS])
            raise InputError(f"{where}: {label}: unknown stage {word!r} (expected one of {known})")
    return frozenset(out) if out else frozenset(STAGES)


def _strings(raw: dict[str, Any], key: str, where: str, label: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {label}: '{key}' must be a list of strings")
    return value


def _int(raw: dict[str, Any], key: str, default: int, where: str, label: str) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"{where}: {label}: '{key}' must be a non-negative integer")
    return value


def _bool(raw: dict[str, Any], key: str, where: str, label: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"{where}: {label}: '{key}' must be true or false")
    return value


def _hint(raw: dict[str, Any], where: str, label: str) -> str:
    value = raw.get("hint", "")
    if not isinstance(value, str) or "\n" in value:
        raise InputError(f"{where}: {label}: 'hint' must be one line of text")
    return value


def _regex(pattern: str, where: str, label: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise InputError(f"{where}: {label}: bad regular expression {pattern!r} ({exc})") from None

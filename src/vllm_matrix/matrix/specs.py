"""Parsing of the spec strings a matrix file holds: torch specs and vLLM sources.

Parsing never touches the network: ``nightly:latest`` stays a spec until a
cell runs and the resolve stage turns it into an exact wheel.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from packaging.version import InvalidVersion, Version

_SHELL_META = re.compile(r"[;&|`$(){}\\\"'*?\n\r\t]")
_REDIRECT = re.compile(r"[<>!]")
_NIGHTLY_LATEST = re.compile(r"^latest(?:~(\d+))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class SpecError(ValueError):
    """A spec string that cannot be parsed; the message says what was expected."""


@dataclass(frozen=True)
class TorchSpec:
    """A torch axis value: a nightly (latest, latest~N, a date), an exact release, or ``existing``.

    ``existing`` is a torch already installed in some Python (an NGC container, a cluster's
    module): ``interpreter`` names that Python, or is empty for ``python<cell's python>`` on PATH.
    """

    kind: Literal["latest", "date", "release", "existing"]
    back: int = 0
    date: dt.date | None = None
    version: str = ""
    interpreter: str = ""


SourceKind = Literal["git", "path", "wheel", "vllm-commit", "nightly-vllm", "toolchain"]
# Prebuilt vLLM, installed over the cell's torch: a release wheel (PyPI), vLLM's
# per-commit wheel index (wheels.vllm.ai), the vLLM dev wheels of the PyTorch nightly index.
PREBUILT = ("wheel", "vllm-commit", "nightly-vllm")
SOURCE_FORMS = (
    "git:<ref>, path:<dir>, wheel:<requirement>, vllm-commit:<sha>|nightly, "
    "nightly-vllm:latest|latest~N|YYYY-MM-DD or toolchain:cuda"
)
# Sources that are a vLLM tree to build (prepare runs use_existing_torch.py on them).
VLLM_TREES = ("git", "path")
_HEX_SHA = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class Source:
    """Where a cell's vLLM comes from: a git ref, a local checkout, or a prebuilt wheel."""

    kind: SourceKind
    value: str

    @property
    def builds(self) -> bool:
        """Whether the cell compiles something (a vLLM tree, the toolchain probe); prebuilt kinds install."""
        return self.kind not in PREBUILT

    @property
    def vllm_tree(self) -> bool:
        """Whether the source is a vLLM tree (git:, path:), as opposed to a wheel or the toolchain probe."""
        return self.kind in VLLM_TREES

    @property
    def runs_suites(self) -> bool:
        """The toolchain probe has no vLLM to run the payload suites on."""
        return self.kind != "toolchain"


def parse_date(text: str) -> dt.date:
    """Parse YYYY-MM-DD, raising SpecError with the expected form."""
    if not _DATE.match(text):
        raise SpecError(f"expected a date YYYY-MM-DD, got {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise SpecError(f"not a calendar date: {text!r}") from exc


def expand_torch_value(value: str) -> list[str]:
    """Expand ``nightly:A..B`` into one ``nightly:DATE`` per calendar day.

    Which of those days the index really has is known only when a cell runs;
    a day that is missing makes that cell a skip, not an error.
    """
    if not value.startswith("nightly:") or ".." not in value:
        parse_torch(value)
        return [value]
    start, end = parse_range(value)
    days = (end - start).days
    if days > 366:
        raise SpecError(f"range {value!r} spans {days} days; the index keeps about 60")
    return [f"nightly:{start + dt.timedelta(days=i)}" for i in range(days + 1)]


def parse_range(value: str) -> tuple[dt.date, dt.date]:
    """``nightly:A..B`` (or ``A..B``) -> (A, B); SpecError for another form or a reversed range."""
    start_text, sep, end_text = value.removeprefix("nightly:").partition("..")
    if not sep:
        raise SpecError(f"expected a range nightly:YYYY-MM-DD..YYYY-MM-DD, got {value!r}")
    start, end = parse_date(start_text), parse_date(end_text)
    if start > end:
        raise SpecError(f"range {value!r} starts after it ends")
    return start, end


def parse_torch(value: str) -> TorchSpec:
    """Parse one torch spec (not a range: ranges are expanded first)."""
    if value.startswith("nightly:"):
        rest = value.removeprefix("nightly:")
        latest = _NIGHTLY_LATEST.match(rest)
        if latest:
            return TorchSpec("latest", back=int(latest.group(1) or 0))
        if _DATE.match(rest):
            return TorchSpec("date", date=parse_date(rest))
        raise SpecError(
            "expected nightly:latest, nightly:latest~N, nightly:YYYY-MM-DD or "
            f"nightly:YYYY-MM-DD..YYYY-MM-DD, got {value!r}"
        )
    if value[:1].isdigit() and _is_version(value):
        return TorchSpec("release", version=value)
    if value == "existing" or value.startswith("existing:/"):
        return TorchSpec("existing", interpreter=value.removeprefix("existing").removeprefix(":"))
    raise SpecError(
        "expected a torch spec such as nightly:latest, 2.13.0+cpu, existing or "
        f"existing:/path/to/python, got {value!r}"
    )


def _is_version(text: str) -> bool:
    """A PEP 440 version (``2.13.0+cpu``, ``2.14.0rc1``), as ``packaging`` reads it."""
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def parse_source(value: str) -> Source:
    """Parse a vLLM source (``SOURCE_FORMS``)."""
    kind, sep, rest = value.partition(":")
    if not sep or kind not in ("git", "path", "toolchain", *PREBUILT) or not rest:
        raise SpecError(f"expected {SOURCE_FORMS}, got {value!r}")
    check_no_shell(rest, what=f"{kind} value")
    if kind == "git" and (rest.startswith("-") or " " in rest or ".." in rest):
        raise SpecError(f"not a valid git ref: {rest!r}")
    if kind == "vllm-commit" and rest != "nightly" and not _HEX_SHA.match(rest):
        raise SpecError(f"vllm-commit: expected a hex commit sha (7 to 40 digits) or 'nightly', got {rest!r}")
    if kind == "toolchain" and rest != "cuda":
        raise SpecError(
            f"toolchain: expected toolchain:cuda (a one-kernel CUDA torch extension), got {value!r}"
        )
    if kind == "nightly-vllm":
        try:
            parse_torch(f"nightly:{rest}")  # the forms of a torch nightly: latest, latest~N, a date
        except SpecError:
            raise SpecError(f"nightly-vllm: expected latest, latest~N or YYYY-MM-DD, got {rest!r}") from None
    return Source(kind, rest)  # type: ignore[arg-type]


def check_no_shell(value: str, what: str) -> None:
    """Refuse values with shell metacharacters.

    Nothing reaches a shell, but a ref like ``main; rm -rf ~`` is a mistake the
    user should hear about. Requirement operators (``<``, ``>``, ``!=``) are
    fine in a wheel requirement and nowhere else.
    """
    bad = _SHELL_META.search(value)
    if bad is None and what != "wheel value":
        bad = _REDIRECT.search(value)
    if bad is not None:
        raise SpecError(f"{what} {value!r} contains the shell metacharacter {bad.group()!r}")

"""A failure's signature: its stage, its class and its evidence line with the incidentals taken out.

Two steps fail "the same way" when their signatures are equal. The evidence line names
URLs and paths (each cell has its own venv), versions and dates (each candidate its own torch),
addresses, shas and counts (``3 of 120 tests failed``) that differ from step to step while
the failure is the same; those become placeholders. What is left (``ImportError: <path>:
undefined symbol: _ZN3c1017RegisterOperatorsD1Ev``) is what the failure is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vllm_matrix.results import CellResult

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"()\[\]<>,;]+")
_PATH = re.compile(r"(?<![\w.~])(?:~|\.{1,2})?(?:/[^\s:'\"()\[\]<>,;]+)+/?")
_VERSION = re.compile(r"\b\d+(?:\.\d+)+(?:\.?(?:dev|post|rc|a|b)\d+)?(?:\+[\w.]+)?")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_SHA = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b")
_NUMBER = re.compile(r"\b\d+\b")
_SPACE = re.compile(r"\s+")
# In this order: a URL holds a path, a path a version, a version numbers.
INCIDENTALS = ((_URL, "<url>"), (_PATH, "<path>"), (_VERSION, "<version>"), (_HEX, "<addr>"), (_SHA, "<sha>"),
               (_NUMBER, "<n>"))  # fmt: skip


def normalize(line: str) -> str:
    """An evidence line without its URLs, paths, versions, addresses, shas and numbers."""
    for pattern, mark in INCIDENTALS:
        line = pattern.sub(mark, line)
    return _SPACE.sub(" ", line).strip()


@dataclass(frozen=True)
class Signature:
    """Where and how a cell failed, normalised."""

    stage: str
    klass: str | None
    evidence: str

    def describe(self) -> str:
        """``verify (ABI_UNDEFINED_SYMBOL): ImportError: <path>: undefined symbol: _ZN...``."""
        klass = f" ({self.klass})" if self.klass else ""
        return f"{self.stage}{klass}: {self.evidence}" if self.evidence else f"{self.stage}{klass}"


def of(result: CellResult) -> Signature | None:
    """The signature of a failed result; None for any other outcome."""
    if result.outcome != "fail":
        return None
    line = result.evidence[0] if result.evidence else (result.message or "")
    return Signature(result.stage or "", result.klass, normalize(line))

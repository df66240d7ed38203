"""``bisect.json``: one bisection's question, its steps so far and, once it ends, its result.

Written atomically after every step, so the same command resumes an interrupted bisection
(and a different question over the same run name is refused rather than mixed in). The
schema is in docs/bisect.md.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_matrix import fileio
from vllm_matrix.bisect.badon import Reference
from vllm_matrix.bisect.space import Candidate, Kind
from vllm_matrix.bisect.state import Bisection, Phase, Step
from vllm_matrix.errors import InputError
from vllm_matrix.serial import SerialError, from_data, to_data

SCHEMA_VERSION = 1
FILE = "bisect.json"


@dataclass
class Document:
    """What bisect.json holds."""

    cell: str
    kind: Kind
    field: str
    good: str
    bad: str
    bad_on: str  # the rule as the user wrote it; empty: the same failure as the bad end
    candidates: list[Candidate]
    phase: Phase = "source"
    steps: list[Step] = dataclasses.field(default_factory=list)  # every step, in order
    reference: Reference = dataclasses.field(default_factory=Reference)
    status: str = "running"  # running, found, only-skips, interrupted
    result: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def state(self) -> Bisection:
        """The bisection state these steps lead to."""
        return Bisection.replay([c.label for c in self.candidates], self.steps, self.phase)

    def same_question(self, other: Document) -> bool:
        """Whether ``other`` asks what this one asks (then its steps can be taken over)."""
        keys = ("cell", "kind", "field", "bad_on")
        same = all(getattr(self, k) == getattr(other, k) for k in keys)
        return same and [c.label for c in self.candidates] == [c.label for c in other.candidates]

    def to_dict(self) -> dict[str, Any]:
        """Every top-level key present (nested records leave out fields at their defaults)."""
        data: dict[str, Any] = to_data(self)
        head = {key: getattr(self, key) for key in ("schema_version", "cell", "kind", "field", "good", "bad",
                                                    "bad_on", "phase", "status")}  # fmt: skip
        return head | {"candidates": data.get("candidates", []), "reference": data.get("reference", {}),
                       "steps": data.get("steps", []), "result": self.result}  # fmt: skip

    def write(self, path: Path) -> None:
        fileio.write_json(path, self.to_dict())


def read(path: Path) -> Document | None:
    """The document at ``path``; None when there is none; InputError when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable bisection ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            f"{path}: not a bisection of schema {SCHEMA_VERSION}; remove it or pass another --run"
        )
    try:
        return from_data(data, Document)
    except SerialError as exc:
        raise InputError(f"{path}: not a readable bisection ({exc})") from None


def resume(path: Path, fresh: Document) -> Document:
    """``fresh``, with the steps of the same question already in ``path`` (none when it is new)."""
    kept = read(path)
    if kept is None:
        return fresh
    if not kept.same_question(fresh):
        raise InputError(
            f"{path} holds another bisection ({kept.cell}, {kept.good} .. {kept.bad}, over {kept.field}); "
            "remove it or pass another --run"
        )
    kept.status = "running"
    return kept

"""Bisection state: ordered candidates, good/bad/skip verdicts, the regression window.

Split as mozregression does: this module is the state (pure, no I/O besides
its JSON form, so a run can resume); ``bisect_loop`` drives it with a test
function; the CLI adapter turns a candidate into a cell run.

Verdicts follow ``git bisect run``: a cell that passes is ``good``, one that
fails is ``bad``, one that cannot be tested (nightly missing, skipped) is
``skip`` and is dropped from the window with a warning.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vllm_matrix.errors import InputError

Verdict = Literal["good", "bad", "skip"]
VERDICTS: tuple[Verdict, ...] = ("good", "bad", "skip")


@dataclass
class Bisection:
    """Candidates ordered oldest first; the first is expected good, the last bad."""

    candidates: list[str]
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.candidates) < 2:
            raise InputError("bisection needs at least two candidates (a good and a bad end)")
        if len(set(self.candidates)) != len(self.candidates):
            raise InputError("bisection candidates must be distinct")

    def record(self, candidate: str, verdict: Verdict) -> None:
        """Store one verdict; a verdict that contradicts the order is an error."""
        if candidate not in self.candidates:
            raise InputError(f"{candidate!r} is not a bisection candidate")
        self.verdicts[candidate] = verdict
        if verdict != "skip":
            lo, hi = self.window()
            if lo >= hi:
                raise InputError(
                    f"{candidate} is {verdict}, which contradicts the window: a good build after a bad one"
                )

    def window(self) -> tuple[int, int]:
        """Indices of the newest good and the oldest bad candidate."""
        marks = [(i, self.verdicts.get(c)) for i, c in enumerate(self.candidates)]
        lo = max((i for i, v in marks if v == "good"), default=0)
        hi = min((i for i, v in marks if v == "bad"), default=len(self.candidates) - 1)
        return lo, hi

    def untested(self) -> list[int]:
        """Indices strictly inside the window with no verdict yet."""
        lo, hi = self.window()
        return [i for i in range(lo + 1, hi) if self.candidates[i] not in self.verdicts]

    def next(self) -> str | None:
        """The candidate to test next (nearest the middle of the window), or None when done."""
        inside = self.untested()
        if not inside:
            return None
        lo, hi = self.window()
        middle = (lo + hi) / 2
        return self.candidates[min(inside, key=lambda i: (abs(i - middle), i))]

    def steps_left(self) -> int:
        """About how many more verdicts are needed."""
        n = len(self.untested())
        return math.ceil(math.log2(n + 1)) if n else 0

    def result(self) -> tuple[str, str, list[str]]:
        """(last good, first bad, skipped candidates between them)."""
        lo, hi = self.window()
        skipped = [c for c in self.candidates[lo + 1 : hi] if self.verdicts.get(c) == "skip"]
        return self.candidates[lo], self.candidates[hi], skipped

    def describe(self) -> str:
        lo, hi = self.window()
        return f"[{self.candidates[lo]}, {self.candidates[hi]}] ({hi - lo} candidates)"

    def to_json(self) -> str:
        return json.dumps({"candidates": self.candidates, "verdicts": self.verdicts}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Bisection:
        try:
            data = json.loads(text)
            verdicts = {str(k): v for k, v in data["verdicts"].items()}
            if any(v not in VERDICTS for v in verdicts.values()):
                raise ValueError("unknown verdict")
            return cls([str(c) for c in data["candidates"]], verdicts)
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"bisection state is not readable: {exc}") from None


@dataclass(frozen=True)
class BisectResult:
    last_good: str
    first_bad: str
    skipped: tuple[str, ...]
    tested: int


def bisect_loop(
    state: Bisection,
    test: Callable[[str], Verdict],
    *,
    save: Callable[[Bisection], None] = lambda _: None,
    say: Callable[[str], None] = print,
    check_ends: bool = True,
) -> BisectResult:
    """Test candidates until the window closes; ``save`` runs after every verdict (resume)."""
    tested = 0
    if check_ends:
        tested += _check_ends(state, test, save, say)
    while (candidate := state.next()) is not None:
        before = state.describe()
        say(f"Testing {candidate} (~{state.steps_left()} steps left)")
        verdict = test(candidate)
        tested += 1
        state.record(candidate, verdict)
        save(state)
        if verdict == "skip":
            say(f"{candidate} could not be tested: dropped from the window")
        else:
            say(
                f"{candidate} is {verdict}. Narrowed regression window from {before} to {state.describe()} "
                f"(~{state.steps_left()} steps left)"
            )
    good, bad, skipped = state.result()
    return BisectResult(good, bad, tuple(skipped), tested)


def _check_ends(
    state: Bisection,
    test: Callable[[str], Verdict],
    save: Callable[[Bisection], None],
    say: Callable[[str], None],
) -> int:
    tested = 0
    for candidate, expected in ((state.candidates[0], "good"), (state.candidates[-1], "bad")):
        if candidate in state.verdicts:
            continue
        say(f"Checking that {candidate} is {expected}")
        verdict = test(candidate)
        tested += 1
        if verdict != expected:
            raise InputError(f"{candidate} was expected {expected} but is {verdict}: check the ends you gave")
        state.verdicts[candidate] = verdict
        save(state)
    return tested


def save_state(path: Path) -> Callable[[Bisection], None]:
    """A ``save`` callback writing the state atomically to ``path``."""

    def save(state: Bisection) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(path)

    return save


def candidates_between(available: Sequence[str], good: str, bad: str) -> list[str]:
    """The ordered candidates from ``good`` to ``bad`` inclusive; both must be available."""
    ordered = sorted(available)
    for end in (good, bad):
        if end not in ordered:
            raise InputError(f"{end} is not among the candidates available ({_span(ordered)})")
    if good >= bad:
        raise InputError(f"the good end {good} must come before the bad end {bad}")
    return [c for c in ordered if good <= c <= bad]


def _span(items: Sequence[str]) -> str:
    return f"{items[0]} .. {items[-1]}, {len(items)} in all" if items else "none"

"""The state of one bisection: ordered candidates, the step judged for each, the regression window.

Pure (no I/O): the loop records steps here, and this module says where the window stands,
whether it is closed, and what is left. Verdicts follow ``git bisect run``: ``good``, ``bad``
and ``skip`` (exit 125: neither good nor bad as the rule defines it, with the reason), plus
``flaky`` (its runs disagreed), which, like a skip, is never taken as a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from vllm_matrix.errors import InputError

Verdict = Literal["good", "bad", "skip", "flaky"]
Status = Literal["running", "found", "only-skips"]
Phase = Literal["prebuilt", "source"]
UNDECIDED: tuple[Verdict, ...] = ("skip", "flaky")


@dataclass(frozen=True)
class Resolved:
    """What a step's cell actually ran: the torch and vLLM the result names."""

    torch_version: str | None = None
    torch_git_version: str | None = None  # the nightly-branch commit (torch.version.git_version)
    vllm_commit: str | None = None
    vllm_version: str | None = None


@dataclass(frozen=True)
class Step:
    """One judged candidate: the verdict, why, and the cells that decided it."""

    candidate: str
    verdict: Verdict
    reason: str
    cell: str  # the id of the step's cell in the run store (its last attempt)
    prebuilt: bool = False  # judged on a prebuilt vLLM rather than a source build
    ran: int = 0  # attempts that ran (not served from the result cache)
    cached: int = 0  # attempts whose verdict the result cache repeated
    built: int = 0  # attempts that built vLLM from source
    resolved: Resolved = field(default_factory=Resolved)


@dataclass
class Bisection:
    """Candidates ordered oldest first (the first is claimed good, the last bad) and their steps."""

    candidates: list[str]
    steps: dict[str, Step] = field(default_factory=dict)
    # prebuilt: narrowing on prebuilt vLLM; source: building, where a prebuilt skip is tested again
    phase: Phase = "source"
    history: list[Step] = field(default_factory=list)  # every step, in the order they were judged

    def __post_init__(self) -> None:
        if len(self.candidates) < 2:
            raise InputError("bisection needs at least two candidates (a good and a bad end)")
        if len(set(self.candidates)) != len(self.candidates):
            raise InputError("bisection candidates must be distinct")

    @classmethod
    def replay(cls, candidates: list[str], history: list[Step], phase: Phase) -> Bisection:
        """The state after ``history``'s steps, in order (a resumed bisection)."""
        state = cls(list(candidates), phase=phase)
        for step in history:
            state.record(step)
        return state

    @property
    def good_end(self) -> str:
        return self.candidates[0]

    @property
    def bad_end(self) -> str:
        return self.candidates[-1]

    def verdict(self, index: int) -> Verdict | None:
        """The verdict of the candidate at ``index``, None when it has no step yet."""
        step = self.steps.get(self.candidates[index])
        return step.verdict if step else None

    def record(self, step: Step) -> None:
        """Store one step; a good after a bad (or a bad before a good) contradicts the order."""
        if step.candidate not in self.candidates:
            raise InputError(f"{step.candidate!r} is not a bisection candidate")
        self.steps[step.candidate] = step
        self.history.append(step)
        lo, hi = self.window()
        if step.verdict in ("good", "bad") and lo >= hi:
            raise InputError(
                f"{step.candidate} is {step.verdict}, which contradicts the window: "
                "a good candidate after a bad one"
            )

    def window(self) -> tuple[int, int]:
        """Indices of the newest good and the oldest bad candidate (the ends until judged)."""
        marks = [(i, self.verdict(i)) for i in range(len(self.candidates))]
        lo = max((i for i, v in marks if v == "good"), default=0)
        hi = min((i for i, v in marks if v == "bad"), default=len(self.candidates) - 1)
        return lo, hi

    def untested(self) -> list[int]:
        """Indices strictly inside the window still to test: no step yet, or (building) a prebuilt skip."""
        lo, hi = self.window()
        return [i for i in range(lo + 1, hi) if self._open(self.steps.get(self.candidates[i]))]

    def _open(self, step: Step | None) -> bool:
        if step is None:
            return True
        return self.phase == "source" and step.prebuilt and step.verdict in UNDECIDED

    def undecided(self) -> list[str]:
        """Candidates strictly inside the window that were skipped or flaky."""
        lo, hi = self.window()
        return [self.candidates[i] for i in range(lo + 1, hi) if self.verdict(i) in UNDECIDED]

    def status(self) -> Status:
        """``found`` once last good and first bad are neighbours; ``only-skips`` when only those remain."""
        lo, hi = self.window()
        if hi == lo + 1:
            return "found"
        return "running" if self.untested() else "only-skips"

    def size(self) -> int:
        """How many candidates may still be the first bad (the bad end included)."""
        lo, hi = self.window()
        return hi - lo

    def steps_left(self) -> int:
        """About how many more verdicts are needed (a binary search over the untested candidates)."""
        n = len(self.untested())
        return math.ceil(math.log2(n + 1)) if n else 0

    def describe(self) -> str:
        """``[good, bad] (N candidates, ~k steps left)``: mozregression's progress line."""
        lo, hi = self.window()
        size, left = self.size(), self.steps_left()
        return (
            f"[{self.candidates[lo]}, {self.candidates[hi]}] ({size} candidate{'s' if size != 1 else ''}, "
            f"~{left} step{'s' if left != 1 else ''} left)"
        )

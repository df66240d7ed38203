"""The bisection loop: check both ends, narrow on prebuilt vLLM, then build inside what is left.

As mozregression's ``Bisector``: the ends are tested first (a good end that is bad is bad
input; a bad end that is not bad, or an end that cannot be tested, is "ends not as
claimed"); then each step halves the window and the progress line says where it stands.
Every step is saved at once, so an interrupted bisection resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vllm_matrix.bisect.pick import next_candidate
from vllm_matrix.bisect.prebuilt import Prebuilt
from vllm_matrix.bisect.state import Bisection, Status, Step
from vllm_matrix.bisect.steps import Tester
from vllm_matrix.errors import EndsNotAsClaimed, InputError

Say = Callable[[str], None]
# Stages only a source build has: a prebuilt wheel cannot show their failures.
SOURCE_ONLY = ("prepare", "build")
WORDS = {"good": "good", "bad": "bad", "skip": "skipped", "flaky": "flaky"}


@dataclass
class Bisector:
    """Drives one bisection's state with its tester; ``save`` runs after every step."""

    state: Bisection
    tester: Tester
    prebuilt: Prebuilt | None
    save: Callable[[], None]
    say: Say

    def run(self) -> Status:
        """Test until the window closes (``found``) or only untestable candidates remain."""
        self.check_ends()
        if self.state.phase == "prebuilt":
            if self._prebuilt_can_show_it():
                self._narrow(prebuilt=True)
                self.say(f"prebuilt steps narrowed the window to {self.state.describe()}")
            self.state.phase = "source"
            self.save()
        self._narrow(prebuilt=False)
        return self.state.status()

    def check_ends(self) -> None:
        """Test the ends (the bad one first when it defines "bad"); refuse ends that are not as claimed."""
        state = self.state
        order = ("bad", "good") if self.tester.rule.kind == "signature" else ("good", "bad")
        for end in order:
            label = state.bad_end if end == "bad" else state.good_end
            if label in state.steps:
                continue
            self.say(f"checking that {label} is {end}")
            step = self.tester.step(label, end=end)
            _check_end(end, step)
            state.record(step)
            self.save()
            self.say(f"{label} is {end}: {step.reason}")

    def _prebuilt_can_show_it(self) -> bool:
        if self.prebuilt is None:
            return False
        rule, known = self.tester.rule, self.tester.reference.signature
        stage = rule.value if rule.kind == "stage" else known.stage if known else None
        if stage in SOURCE_ONLY:
            self.say(f"the bad end fails at {stage}, which a prebuilt vLLM does not run: every step builds")
            return False
        self.say(f"narrowing with prebuilt vLLM first: {self.prebuilt.what}")
        return True

    def _narrow(self, *, prebuilt: bool) -> None:
        """Test until no candidate is left: on prebuilt vLLM (only candidates that have one), or building."""
        state = self.state
        while (label := next_candidate(state, self._has_prebuilt if prebuilt else _any)) is not None:
            value = self._prebuilt_of(label) if prebuilt else None
            self.say(f"testing {label}" + (f" on the prebuilt {value}" if value else ""))
            step = self.tester.step(label, value)
            state.record(step)
            self.save()
            how = " (prebuilt)" if step.prebuilt else ""
            self.say(f"{label} is {WORDS[step.verdict]}{how}: {step.reason}; narrowed to {state.describe()}")

    def _prebuilt_of(self, label: str) -> str | None:
        return self.prebuilt(self.tester.space.get(label)) if self.prebuilt else None

    def _has_prebuilt(self, label: str) -> bool:
        return self._prebuilt_of(label) is not None


def _any(label: str) -> bool:
    return True


def _check_end(end: str, step: Step) -> None:
    if step.verdict == end:
        return
    what = f"bisect: the {end} end {step.candidate} is {WORDS[step.verdict]}, not {end}: {step.reason}"
    if end == "good" and step.verdict == "bad":
        raise InputError(f"{what} (pass an older --good)")
    raise EndsNotAsClaimed(what)

"""The bisection state: the window, its status, contradictions, replay."""

from __future__ import annotations

import pytest

from vllm_matrix.bisect.state import Bisection, Step, Verdict
from vllm_matrix.errors import InputError

DAYS = [f"2026-11-{d:02d}" for d in range(1, 11)]


def step(candidate: str, verdict: Verdict, *, prebuilt: bool = False) -> Step:
    return Step(candidate, verdict, "because", f"c_{candidate}", prebuilt=prebuilt)


def test_the_window_is_newest_good_to_oldest_bad() -> None:
    state = Bisection(list(DAYS))
    assert state.window() == (0, 9) and state.status() == "running"
    for candidate, verdict in (("2026-11-04", "good"), ("2026-11-08", "bad"), ("2026-11-06", "skip")):
        state.record(step(candidate, verdict))  # type: ignore[arg-type]
    assert state.window() == (3, 7)
    assert [DAYS[i] for i in state.untested()] == ["2026-11-05", "2026-11-07"]
    assert state.undecided() == ["2026-11-06"]
    assert state.describe() == "[2026-11-04, 2026-11-08] (4 candidates, ~2 steps left)"


def test_found_once_good_and_bad_are_neighbours_only_skips_when_only_those_remain() -> None:
    state = Bisection(list(DAYS[:4]))
    state.record(step(DAYS[0], "good"))
    state.record(step(DAYS[3], "bad"))
    state.record(step(DAYS[1], "skip"))
    assert state.status() == "running"
    state.record(step(DAYS[2], "flaky"))
    assert state.status() == "only-skips" and state.undecided() == [DAYS[1], DAYS[2]]
    state.record(step(DAYS[2], "bad"))  # judged again later: the latest step counts
    assert (
        state.status() == "only-skips"
        and state.describe() == "[2026-11-01, 2026-11-03] (2 candidates, ~0 steps left)"
    )
    state.record(step(DAYS[1], "good"))
    assert state.status() == "found" and state.window() == (1, 2)


def test_a_good_after_a_bad_contradicts_the_window() -> None:
    state = Bisection(list(DAYS))
    state.record(step("2026-11-05", "bad"))
    with pytest.raises(InputError, match="contradicts the window"):
        state.record(step("2026-11-07", "good"))


def test_building_tests_again_what_a_prebuilt_step_could_not_judge() -> None:
    state = Bisection(list(DAYS[:3]), phase="prebuilt")
    state.record(step(DAYS[1], "skip", prebuilt=True))
    assert state.untested() == []
    state.phase = "source"
    assert state.untested() == [1]


def test_replay_gives_the_same_state() -> None:
    history = [step(DAYS[9], "bad"), step(DAYS[0], "good"), step(DAYS[5], "skip"), step(DAYS[4], "good")]
    state = Bisection.replay(list(DAYS), history, "source")
    assert state.window() == (4, 9) and state.history == history


@pytest.mark.parametrize("candidates", [["only"], ["a", "a"]])
def test_candidates_must_be_two_distinct_ones(candidates: list[str]) -> None:
    with pytest.raises(InputError):
        Bisection(candidates)

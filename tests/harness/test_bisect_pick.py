"""The next candidate: a binary search, and after a skip, near the middle but away from the skip."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from vllm_matrix.bisect.pick import next_candidate
from vllm_matrix.bisect.state import Bisection, Step, Verdict


def drive(n: int, first_bad: int, skips: frozenset[int] = frozenset()) -> tuple[Bisection, list[int]]:
    """Bisect candidates 0..n-1 (0 good, n-1 bad) with an oracle; the state and the order tested."""
    names = [f"c{i:03d}" for i in range(n)]
    state = Bisection(names)
    for i, verdict in ((n - 1, "bad"), (0, "good")):
        state.record(Step(names[i], verdict, "", ""))  # type: ignore[arg-type]
    order = []
    while (name := next_candidate(state)) is not None:
        i = names.index(name)
        order.append(i)
        verdict: Verdict = "skip" if i in skips else "bad" if i >= first_bad else "good"
        state.record(Step(name, verdict, "", ""))
    return state, order


@given(st.integers(2, 200), st.data())
def test_without_skips_at_most_ceil_log2_n_plus_two_cells(n: int, data: st.DataObject) -> None:
    first_bad = data.draw(st.integers(1, n - 1))
    state, order = drive(n, first_bad)
    assert state.status() == "found" and state.window() == (first_bad - 1, first_bad)
    assert 2 + len(order) <= math.ceil(math.log2(n)) + 2


@given(st.integers(3, 80), st.data())
def test_with_skips_the_boundary_is_found_or_only_skips_lie_in_between(n: int, data: st.DataObject) -> None:
    first_bad = data.draw(st.integers(1, n - 1))
    skips = frozenset(data.draw(st.sets(st.integers(1, n - 2), max_size=8)))
    state, order = drive(n, first_bad, skips)
    lo, hi = state.window()
    assert lo < first_bad <= hi and all(i in skips for i in range(lo + 1, hi))
    assert len(order) <= len(skips) + math.ceil(math.log2(n)) + 1


def test_after_a_skip_the_next_is_near_the_middle_not_the_neighbour() -> None:
    _, order = drive(21, first_bad=3, skips=frozenset({10}))
    assert order[0] == 10 and order[1] not in (9, 11) and abs(order[1] - 10) <= 5


def test_a_run_of_skips_costs_fewer_steps_than_walking_its_neighbours() -> None:
    broken = frozenset(range(7, 14))  # a week that did not build
    _, order = drive(21, first_bad=17, skips=broken)
    walked = [i for i in order if i in broken]
    assert len(walked) < 4  # the neighbour walk would try 10, 9, 11, 8, 12, 7, 13 before a verdict


def test_only_allowed_candidates_are_picked_and_allowed_is_asked_lazily() -> None:
    state = Bisection([f"c{i}" for i in range(9)])
    asked: list[str] = []

    def prebuilt(name: str) -> bool:
        asked.append(name)
        return name in ("c2", "c6")

    assert next_candidate(state, prebuilt) in ("c2", "c6")
    assert len(asked) < 7
    state.record(Step("c2", "bad", "", ""))
    assert next_candidate(state, lambda name: name == "c7") is None  # outside the window now

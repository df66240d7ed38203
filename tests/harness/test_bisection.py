"""Bisection state and loop: fewest tests, skips dropped, ends checked, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_matrix.bisection import Bisection, Verdict, bisect_loop, candidates_between, save_state
from vllm_matrix.errors import InputError

DAYS = [f"2026-11-{d:02d}" for d in range(1, 21)]


def oracle(first_bad: str, skips: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def test(candidate: str) -> Verdict:
        calls.append(candidate)
        if candidate in skips:
            return "skip"
        return "bad" if candidate >= first_bad else "good"

    return test, calls


def test_finds_first_bad_in_log2_steps() -> None:
    test, calls = oracle("2026-11-13")
    lines: list[str] = []
    result = bisect_loop(Bisection(list(DAYS)), test, say=lines.append)
    assert (result.last_good, result.first_bad) == ("2026-11-12", "2026-11-13")
    assert len(calls) <= 2 + 5  # both ends + ceil(log2(18))
    assert any(
        line.startswith("2026-11-") and "Narrowed regression window from [2026-11-01, 2026-11-20]" in line
        for line in lines
    )
    assert "steps left" in lines[-1]


def test_skipped_candidates_are_dropped_and_reported() -> None:
    test, _ = oracle("2026-11-13", frozenset({"2026-11-12", "2026-11-11"}))
    result = bisect_loop(Bisection(list(DAYS)), test, say=lambda _: None)
    assert (result.last_good, result.first_bad) == ("2026-11-10", "2026-11-13")
    assert result.skipped == ("2026-11-11", "2026-11-12")


def test_ends_are_checked_before_bisecting() -> None:
    test, _ = oracle("2026-11-01")  # the "good" end is already bad
    with pytest.raises(InputError, match="2026-11-01 was expected good but is bad"):
        bisect_loop(Bisection(list(DAYS)), test, say=lambda _: None)


def test_contradicting_verdict_is_refused() -> None:
    state = Bisection(list(DAYS))
    state.record("2026-11-05", "bad")
    with pytest.raises(InputError, match="contradicts"):
        state.record("2026-11-09", "good")


def test_resume_does_not_retest(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    test, calls = oracle("2026-11-07")
    state = Bisection(list(DAYS))
    save = save_state(path)
    interrupted = False

    def flaky(candidate: str) -> Verdict:
        nonlocal interrupted
        if len(calls) == 4 and not interrupted:
            interrupted = True
            raise KeyboardInterrupt
        return test(candidate)

    with pytest.raises(KeyboardInterrupt):
        bisect_loop(state, flaky, save=save, say=lambda _: None)
    done_before = set(calls)
    resumed = Bisection.from_json(path.read_text())
    result = bisect_loop(resumed, test, save=save, say=lambda _: None)
    assert result.first_bad == "2026-11-07"
    assert len(calls) == len(set(calls))  # nothing tested twice
    assert done_before <= set(resumed.verdicts)


def test_candidates_between() -> None:
    assert candidates_between(DAYS, "2026-11-03", "2026-11-05") == ["2026-11-03", "2026-11-04", "2026-11-05"]
    with pytest.raises(InputError, match="not among the candidates available"):
        candidates_between(DAYS, "2026-10-01", "2026-11-05")
    with pytest.raises(InputError, match="must come before"):
        candidates_between(DAYS, "2026-11-05", "2026-11-03")


def test_bad_state_file_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not readable"):
        Bisection.from_json('{"candidates": ["a", "b"], "verdicts": {"a": "maybe"}}')


@given(st.integers(1, 40), st.data())
def test_always_finds_the_boundary(n_good: int, data: st.DataObject) -> None:
    n = n_good + data.draw(st.integers(1, 40))
    cands = [f"c{i:03d}" for i in range(n)]
    first_bad = cands[n_good]
    skips = frozenset(data.draw(st.sets(st.sampled_from(cands[1:-1]), max_size=5))) if n > 2 else frozenset()
    test, calls = oracle(first_bad, skips)
    result = bisect_loop(Bisection(cands), test, say=lambda _: None)
    assert result.last_good < first_bad <= result.first_bad
    assert all(c in skips for c in cands if result.last_good < c < result.first_bad)
    assert len(calls) <= 2 + len(skips) + (n - 1).bit_length() + 1

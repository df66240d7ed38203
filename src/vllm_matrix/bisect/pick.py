"""Which candidate to test next: the middle of the window, and after a skip, near the middle again.

Without skips this is a binary search: the untested candidate nearest the middle of the
window, so N candidates take about log2(N) steps. After a skip, mozregression drops the
build and takes the middle of what is left; skipped builds come in runs, though (a nightly
that failed to publish for three days, a week in which vLLM did not build), so the neighbour
of a skipped candidate is likely skipped too. The next candidate is therefore the one nearest
the middle that is not next to a skipped one, as long as such a candidate lies in the middle
half of the window (so the window still shrinks by at least a quarter); else the nearest one.
"""

from __future__ import annotations

from collections.abc import Callable

from vllm_matrix.bisect.state import UNDECIDED, Bisection


def next_candidate(state: Bisection, allowed: Callable[[str], bool] = lambda _: True) -> str | None:
    """The candidate to test next among those ``allowed`` (prebuilt ones, say), or None when none is left.

    ``allowed`` is asked in order of preference and only as far as needed: it may be costly
    (a lookup on a wheel index) and is asked about as few candidates as possible.
    """
    lo, hi = state.window()
    middle = (lo + hi) / 2
    untested = state.untested()
    order = sorted(untested, key=lambda i: (abs(i - middle), i))
    skipped = {i for i in range(lo + 1, hi) if state.verdict(i) in UNDECIDED} - set(untested)
    quarter = (hi - lo) / 4
    away = [i for i in order if not ({i - 1, i + 1} & skipped) and abs(i - middle) <= quarter]
    for i in dict.fromkeys([*away, *order]):
        if allowed(state.candidates[i]):
            return state.candidates[i]
    return None

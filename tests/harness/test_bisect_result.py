"""The outcome: its ends and counts, its text, its JSON, its report section; bisect.json and resuming."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_matrix.bisect import document, result
from vllm_matrix.bisect.compare import Messages, collapse
from vllm_matrix.bisect.document import Document
from vllm_matrix.bisect.result import Links
from vllm_matrix.bisect.space import Candidate
from vllm_matrix.bisect.state import Resolved, Step, Verdict
from vllm_matrix.errors import InputError

DAYS = ["2026-11-01", "2026-11-02", "2026-11-04", "2026-11-05"]
GIT = {day: f"{i + 1:x}" * 40 for i, day in enumerate(DAYS)}
NO_MESSAGES = Links(Messages(api_base=None), "https://github.com/vllm-project/vllm.git")


def doc(*steps: tuple[str, Verdict, bool]) -> Document:
    candidates = [Candidate(d, f"nightly:{d}", "n" + d.replace("-", "")) for d in DAYS]
    d = Document("c", "torch-nightly", "torch", DAYS[0], DAYS[-1], "", candidates)
    d.steps = [Step(day, verdict, f"{verdict} because", f"c_{day}", prebuilt, ran=0 if prebuilt else 1,
                    cached=0, built=0 if prebuilt else 1, resolved=Resolved(f"2.13.0.dev{day}", GIT[day]))
               for day, verdict, prebuilt in steps]  # fmt: skip
    return d


def test_a_found_outcome_names_the_ends_the_range_and_the_costs() -> None:
    d = doc(
        (DAYS[3], "bad", False), (DAYS[0], "good", False), (DAYS[1], "good", True), (DAYS[2], "bad", False)
    )
    outcome = result.build(d, d.state(), NO_MESSAGES)
    assert (outcome.status, outcome.last_good.candidate, outcome.first_bad.candidate) == (
        "found",
        DAYS[1],
        DAYS[2],
    )
    assert outcome.last_good.prebuilt and outcome.last_good.torch_git_version == GIT[DAYS[1]]
    assert outcome.compare_url == outcome.nightly_compare_url == (
        f"https://github.com/pytorch/pytorch/compare/{GIT[DAYS[1]]}...{GIT[DAYS[2]]}")  # fmt: skip
    assert outcome.note.startswith("no main-branch range: no pytorch checkout or API")
    c = outcome.counts
    assert (c.candidates, c.steps, c.cells_run, c.built, c.prebuilt, c.bound) == (4, 4, 3, 3, 1, 4)
    text = result.render_text(outcome)
    assert text.splitlines()[0] == (
        f"c: last good {DAYS[1]} (torch 2.13.0.dev{DAYS[1]}, git {GIT[DAYS[1]][:12]}; prebuilt), "
        f"first bad {DAYS[2]} (torch 2.13.0.dev{DAYS[2]}, git {GIT[DAYS[2]][:12]})")  # fmt: skip
    assert (
        f"prebuilt steps: {DAYS[1]}" in text
        and "4 candidates, 4 steps: 3 cells run (3 built from source)" in text
    )


def test_the_outcome_round_trips_through_json_and_renders_a_report_section(tmp_path: Path) -> None:
    d = doc(
        (DAYS[3], "bad", False), (DAYS[0], "good", False), (DAYS[1], "skip", False), (DAYS[2], "flaky", False)
    )
    outcome = result.build(d, d.state(), NO_MESSAGES)
    assert outcome.status == "only-skips" and outcome.one_of == ((DAYS[1],), (DAYS[2],), (DAYS[3],))
    assert result.from_dict(outcome.to_dict()) == outcome
    d.status, d.result = outcome.status, outcome.to_dict()
    d.write(tmp_path / document.FILE)
    section = result.section(tmp_path)
    assert section is not None and section.startswith("### Bisection of `c` over torch")
    assert (
        f"the first bad is one of: {DAYS[1]}, {DAYS[2]}, {DAYS[3]} (skipped: {DAYS[1]}: skip because"
        in section
    )
    assert f"| 3 | {DAYS[1]} | skip |  | `c_{DAYS[1]}` | skip because |" in section
    assert result.section(tmp_path / "elsewhere") is None


def test_neighbours_sharing_a_commit_are_grouped() -> None:
    commit = {"a": "x", "b": "x", "c": None, "d": "y", "e": "y", "f": "x"}.get
    assert collapse(list("abcdef"), commit) == [["a", "b"], ["c"], ["d", "e"], ["f"]]


def test_resuming_takes_over_the_same_question_and_refuses_another(tmp_path: Path) -> None:
    path = tmp_path / document.FILE
    first = doc((DAYS[3], "bad", False))
    first.write(path)
    resumed = document.resume(path, doc())
    assert [s.candidate for s in resumed.steps] == [DAYS[3]] and resumed.status == "running"
    other = doc()
    other.bad_on = "class=NO_KERNEL_IMAGE"
    with pytest.raises(InputError, match="holds another bisection"):
        document.resume(path, other)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a readable bisection"):
        document.resume(path, doc())

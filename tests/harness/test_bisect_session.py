"""Whole bisections on the fixture field: real runner, real uv, a loopback index of 30 nightlies.

The fixture vLLM's outcome depends on the installed torch's date (``bisectfield.Plan``);
every step is an ordinary cell of the run, served by the result cache when its inputs
already have a verdict.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bisectfield import (
    BUMP,
    SHARED,
    TESTS,
    Plan,
    bench,
    main_sha,
    nightly_sha,
    torch_version,
    wheel_cell,
)

from vllm_matrix.bisect.result import render_text
from vllm_matrix.nightly.commits import compare_url
from vllm_matrix.results import RunStore

pytestmark = pytest.mark.slow


def test_first_bad_nightly_with_at_most_log2_plus_two_cells(tmp_path: Path) -> None:
    with bench(tmp_path, Plan(since={str(BUMP): "abi"})) as b:
        outcome, lines = b.bisect(wheel_cell(), good="2026-11-13", bad="2026-11-30")
    assert (outcome.status, outcome.last_good.candidate, outcome.first_bad.candidate) == (
        "found", "2026-11-16", str(BUMP))  # fmt: skip
    # on the bump day both 2.13.0 and 2.14.0 are listed: the higher is that date's nightly
    assert outcome.first_bad.torch_version == torch_version(BUMP) == f"2.14.0.dev{BUMP:%Y%m%d}+cu130"
    assert outcome.last_good.torch_git_version == nightly_sha(BUMP.replace(day=16))
    # the main-branch range, from the nightly commit messages
    assert outcome.compare_url == compare_url(main_sha(BUMP.replace(day=16)), main_sha(BUMP))
    assert outcome.nightly_compare_url == compare_url(nightly_sha(BUMP.replace(day=16)), nightly_sha(BUMP))
    counts = outcome.counts
    assert counts.candidates == 17  # 13..30 without the missing 22nd
    assert counts.cells_run == counts.steps <= math.ceil(math.log2(17)) + 2 == counts.bound
    assert counts.cached == counts.built == counts.prebuilt == 0
    assert any(line.endswith("steps left)") and "narrowed to [2026-11-" in line for line in lines)
    store = RunStore(tmp_path / "reports" / "r1")
    bad = store.read_result(outcome.first_bad.cell)
    assert bad is not None and (bad.outcome, bad.stage, bad.klass) == (
        "fail",
        "verify",
        "ABI_UNDEFINED_SYMBOL",
    )
    saved = json.loads((store.root / "bisect.json").read_text())
    assert saved["status"] == "found" and saved["result"]["first_bad"]["candidate"] == str(BUMP)
    assert [s["candidate"] for s in saved["steps"]][:2] == ["2026-11-30", "2026-11-13"]  # the ends first


def test_a_second_overlapping_bisection_runs_nothing_that_has_a_result(tmp_path: Path) -> None:
    with bench(tmp_path, Plan(since={str(BUMP): "abi"})) as b:
        first, _ = b.bisect(wheel_cell(), good="2026-11-13", bad="2026-11-30", run="r1")
        again, _ = b.bisect(wheel_cell(), good="2026-11-13", bad="2026-11-30", run="r2")
        wider, _ = b.bisect(wheel_cell(), good="2026-11-04", bad="2026-11-30", run="r3")
    assert (again.counts.cells_run, again.counts.cached) == (0, first.counts.steps)
    assert again.first_bad == first.first_bad
    judged = {s.candidate for s in first.steps}
    for step in wider.steps:
        assert (step.ran, step.cached) == ((0, 1) if step.candidate in judged else (1, 0)), step
    assert wider.counts.cells_run == len({s.candidate for s in wider.steps} - judged) < wider.counts.steps


def test_a_skip_is_a_step_with_its_reason_and_the_next_is_not_its_neighbour(tmp_path: Path) -> None:
    # candidates 06 07 08 09 11 12 13 14 15 16 17 18: the middle, the 12th, fails to install
    with bench(tmp_path, Plan(since={"2026-11-14": "abi"})) as b:
        outcome, lines = b.bisect(wheel_cell(), good="2026-11-06", bad="2026-11-18")
    order = [s.candidate for s in outcome.steps]
    assert order[2] == "2026-11-12"
    skipped = outcome.steps[2]
    assert skipped.verdict == "skip" and "fails differently: torch" in skipped.reason
    assert order[3] not in ("2026-11-11", "2026-11-13")  # near the middle, away from the skip
    assert (outcome.status, outcome.last_good.candidate, outcome.first_bad.candidate) == (
        "found", "2026-11-13", "2026-11-14")  # fmt: skip
    assert any(line.startswith("2026-11-12 is skipped: fails differently") for line in lines)


def test_only_skips_left_names_every_candidate_and_why(tmp_path: Path) -> None:
    plan = Plan(since={"2026-11-05": "abi"}, on={"2026-11-02": "nokernel", "2026-11-04": "nokernel"})
    with bench(tmp_path, plan) as b:
        outcome, _ = b.bisect(wheel_cell(), good="2026-11-01", bad="2026-11-05")
    assert outcome.status == "only-skips"
    assert outcome.one_of == (("2026-11-02",), ("2026-11-04",), ("2026-11-05",))
    text = render_text(outcome)
    assert (
        "the first bad is one of: 2026-11-02, 2026-11-04, 2026-11-05 (skipped: 2026-11-02: fails differently"
        in text
    )
    assert "NO_KERNEL_IMAGE" in text


def test_a_flaky_step_is_retried_and_never_taken_as_a_verdict(tmp_path: Path) -> None:
    counter = tmp_path / "imports"
    plan = Plan(since={"2026-11-15": "abi"}, on={"2026-11-14": "flaky"}, counter=str(counter))
    with bench(tmp_path, plan) as b:
        outcome, _ = b.bisect(wheel_cell(), good="2026-11-13", bad="2026-11-16", retries=2)
        flaky = next(s for s in outcome.steps if s.candidate == "2026-11-14")
        assert (flaky.verdict, flaky.ran) == ("flaky", 2)  # bad, then good: no third run
        assert flaky.reason.startswith("its runs disagree: bad (fails the same way")
        assert outcome.status == "only-skips" and outcome.one_of == (("2026-11-14",), ("2026-11-15",))
        # the result cache now knows these inputs are flaky: a later bisection needs no retry to see it
        again, _ = b.bisect(wheel_cell(), good="2026-11-13", bad="2026-11-16", run="r2")
    seen = next(s for s in again.steps if s.candidate == "2026-11-14")
    assert seen.verdict == "flaky" and "different verdicts before" in seen.reason


def test_dates_sharing_one_nightly_commit_collapse(tmp_path: Path) -> None:
    # the 20th cannot be judged (flaky) but is the commit of the 19th, which is good
    plan = Plan(since={"2026-11-21": "abi"}, on={str(SHARED[1]): "flaky"}, counter=str(tmp_path / "n"))
    with bench(tmp_path, plan) as b:
        outcome, _ = b.bisect(wheel_cell(), good="2026-11-18", bad="2026-11-23", retries=1)
    verdicts = {s.candidate: s.verdict for s in outcome.steps}
    assert verdicts[str(SHARED[1])] == "flaky" and verdicts[str(SHARED[0])] == "good"
    assert (outcome.status, outcome.first_bad.candidate) == ("found", "2026-11-21")
    assert outcome.last_good.same_commit == (str(SHARED[1]),)
    assert "share the torch commit of 2026-11-19 (good)" in outcome.note


def test_bad_on_a_class_skips_other_classes(tmp_path: Path) -> None:
    plan = Plan(since={"2026-11-24": "nokernel"}, on={"2026-11-21": "abi"})  # the 21st: the first step
    with bench(tmp_path, plan) as b:
        outcome, _ = b.bisect(
            wheel_cell(), good="2026-11-13", bad="2026-11-30", bad_on="class=NO_KERNEL_IMAGE"
        )
    assert (outcome.status, outcome.last_good.candidate, outcome.first_bad.candidate) == (
        "found", "2026-11-23", "2026-11-24")  # fmt: skip
    other = next(s for s in outcome.steps if s.candidate == "2026-11-21")
    assert other.verdict == "skip" and "with another class, ABI_UNDEFINED_SYMBOL at verify" in other.reason


def test_bad_on_a_test(tmp_path: Path) -> None:
    plan = Plan(since={"2026-11-16": "test"}, on={"2026-11-14": "abi"})
    test = "kernels/test_activation.py::test_silu_and_mul"
    with bench(tmp_path, plan) as b:
        outcome, _ = b.bisect(wheel_cell(), good="2026-11-13", bad="2026-11-20", bad_on=f"test={test}")
    assert (outcome.last_good.candidate, outcome.first_bad.candidate) == ("2026-11-15", "2026-11-16")
    verdicts = {s.candidate: (s.verdict, s.reason) for s in outcome.steps}
    assert verdicts["2026-11-16"] == ("bad", f"{TESTS[0]} fails (1 of 3 tests failed)")
    assert verdicts["2026-11-14"][0] == "skip" and "before the suites ran" in verdicts["2026-11-14"][1]


def test_bad_on_a_figure_relative_to_the_good_end(tmp_path: Path) -> None:
    with bench(tmp_path, Plan(since={"2026-11-18": "slow"})) as b:
        outcome, _ = b.bisect(
            wheel_cell(), good="2026-11-13", bad="2026-11-30", bad_on="decode_tok_s<0.9*good"
        )
    assert (outcome.last_good.candidate, outcome.first_bad.candidate) == ("2026-11-17", "2026-11-18")
    bad = next(s for s in outcome.steps if s.candidate == "2026-11-18")
    assert bad.reason == "decode_tok_s = 200 (< 270)"
    good = next(s for s in outcome.steps if s.candidate == "2026-11-13")
    assert good.reason == "decode_tok_s = 300 (not < 270)"


def test_an_explicit_list_of_vllm_releases(tmp_path: Path) -> None:
    ok, broken = Plan(), Plan(since={"2026-11-01": "abi"})
    releases = {"0.30.0": ok, "0.31.0": ok, "0.32.0": broken, "0.33.0": broken}
    over = ",".join(f"wheel:vllm=={v}" for v in releases)
    with bench(tmp_path, ok, releases=releases) as b:
        outcome, _ = b.bisect(wheel_cell(torch="nightly:2026-11-05"), over=over)
    assert (outcome.kind, outcome.field) == ("list", "vllm")
    assert (outcome.last_good.candidate, outcome.first_bad.candidate) == (
        "wheel:vllm==0.31.0",
        "wheel:vllm==0.32.0",
    )
    assert outcome.compare_url == "https://github.com/vllm-project/vllm/compare/v0.31.0...v0.32.0"
    assert outcome.last_good.cell == "c_wheel_vllm_0_31_0"


HISTORY = ["ok"] * 5 + ["abi"] * 4  # commit 5 is the first bad


def test_vllm_commits_between_two_refs_are_built(tmp_path: Path) -> None:
    with bench(tmp_path, Plan(), history=HISTORY) as b:
        shas = list(b.built)
        cell = wheel_cell(vllm="git:main", torch="nightly:2026-11-05")
        outcome, _ = b.bisect(cell, over="vllm", good="v0.32.0", bad="main", prebuilt="none")
    assert (outcome.last_good.candidate, outcome.first_bad.candidate) == (shas[4][:12], shas[5][:12])
    assert outcome.first_bad.vllm_commit == shas[5] and outcome.first_bad.value == f"git:{shas[5]}"
    counts = outcome.counts
    assert counts.built == counts.cells_run == counts.steps <= math.ceil(math.log2(9)) + 2
    assert counts.prebuilt == 0


def test_prebuilt_commit_wheels_narrow_first_and_fewer_builds_run(tmp_path: Path) -> None:
    with bench(tmp_path, Plan(), history=HISTORY) as b:
        shas = list(b.built)
        cell = wheel_cell(vllm="git:main", torch="nightly:2026-11-05")
        outcome, lines = b.bisect(cell, over="vllm", good="v0.32.0", bad="main")
    assert (outcome.last_good.candidate, outcome.first_bad.candidate) == (shas[4][:12], shas[5][:12])
    prebuilt = [s.candidate for s in outcome.steps if s.prebuilt]
    assert prebuilt and all(shas.index(next(x for x in shas if x.startswith(c))) % 2 == 0 for c in prebuilt)
    counts = outcome.counts
    assert counts.prebuilt == len(prebuilt) and counts.built == counts.steps - counts.prebuilt
    assert counts.built <= 3  # the two ends, and the one commit without a wheel left in the window
    assert any("narrowing with prebuilt vLLM first: vLLM's per-commit wheels" in line for line in lines)
    assert "prebuilt steps: " in render_text(outcome)


def test_prebuilt_dev_wheels_narrow_a_date_bisection_of_a_source_build(tmp_path: Path) -> None:
    plan, cell = Plan(since={"2026-11-18": "abi"}), wheel_cell(vllm="git:main")
    with bench(tmp_path / "a", plan, history=["dates"]) as b:
        built, _ = b.bisect(cell, good="2026-11-13", bad="2026-11-30", prebuilt="none")
    with bench(tmp_path / "b", plan, history=["dates"]) as b:
        outcome, lines = b.bisect(cell, good="2026-11-13", bad="2026-11-30")
    for found in (built, outcome):
        assert (found.last_good.candidate, found.first_bad.candidate) == ("2026-11-17", "2026-11-18")
    prebuilt = {s.candidate for s in outcome.steps if s.prebuilt}
    assert prebuilt and prebuilt <= {"2026-11-16", "2026-11-20", "2026-11-24", "2026-11-28"}
    assert outcome.counts.built < built.counts.built
    assert any("the vLLM dev wheels of" in line for line in lines)


def test_nightlies_older_than_the_index_window_install_by_url(tmp_path: Path) -> None:
    with bench(tmp_path, Plan(since={"2026-11-02": "abi"})) as b:
        outcome, lines = b.bisect(wheel_cell(), good="2026-10-28", bad="2026-11-06",
                                  url_template=b.field.url_template)  # fmt: skip
        store = RunStore(tmp_path / "reports" / "r1")
        saved = json.loads((store.root / "bisect.json").read_text())
    labels = [c["label"] for c in saved["candidates"]]
    assert labels[:4] == [
        "2026-10-28",
        "2026-10-29",
        "2026-10-31",
        "2026-11-01",
    ]  # the 30th is not on the host
    assert (outcome.last_good.candidate, outcome.first_bad.candidate) == ("2026-11-01", "2026-11-02")
    good_end = store.read_result("c_n20261028")
    assert good_end is not None and good_end.outcome == "pass"
    assert good_end.facts.torch is not None and good_end.facts.torch.requirements[0].startswith(
        "torch @ http"
    )
    assert good_end.facts.torch_version == "2.13.0.dev20261028+cu130"
    assert "3 older ones by URL" in lines[0]

"""The pivot model: statuses (cached, n/a, no result), columns from the resolved nightly, cache keys."""

from __future__ import annotations

import pytest
from reportruns import BREAKS, NIGHTS, PASSES, SHARES, run_night, v1_run

from vllm_matrix.report import inputs, model
from vllm_matrix.report.inputs import Entry
from vllm_matrix.report.legend import CACHED, NO_RESULT
from vllm_matrix.results import CachedFrom, CellResult
from vllm_matrix.stages.state import CellState, TorchChoice, VllmChoice


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> list[model.CellView]:
    root = tmp_path_factory.mktemp("model")
    runs = [run_night(root / "reports", root / "w", NIGHTS[1]), v1_run(root / "reports")]
    return model.views(inputs.load(runs).entries)


def test_columns_are_the_resolved_nightly_then_unresolved_specs_then_releases(
    cells: list[model.CellView],
) -> None:
    pivot = model.pivot(cells)
    assert pivot.columns == ["2026-11-28", "latest", "2.13.0+cpu"]
    assert pivot.axes == ("cuda", "arch", "flash_attn", "vllm", "gpu", "dtype"), "the extras that vary"
    row = ("cu132", "12.0", "FA2", "main", "sm_120", "bf16")
    assert [v.id for v in pivot.at(row, "2026-11-28")] == [BREAKS]
    skipped = next(v for v in cells if v.id == "b200")
    assert (skipped.column, skipped.nightly) == ("latest", None), "a skipped cell never resolved its nightly"


def test_column_order_puts_older_latest_specs_first() -> None:
    columns = ["2.13.0+cpu", "latest", "2026-11-29", "latest~2", "2026-11-27"]
    assert sorted(columns, key=model.column_order) == [
        "2026-11-27",
        "2026-11-29",
        "latest~2",
        "latest",
        "2.13.0+cpu",
    ]


def test_failures_are_listed_with_stage_class_and_decisive_line(cells: list[model.CellView]) -> None:
    listed = {v.id: v for v in model.failures(cells)}
    assert set(listed) >= {BREAKS, SHARES}
    view = listed[BREAKS]
    assert (view.stage, view.klass) == ("build", "NVCC_UNSUPPORTED_ARCH")
    assert view.decisive == "nvcc fatal : Unsupported gpu architecture 'compute_120'"
    assert model.totals_line(cells) == "6 cells: 2 pass, 3 fail (2 experimental), 1 skip"


def _result(**facts: object) -> CellResult:
    state = CellState(
        torch=TorchChoice("nightly:latest", "nightly", "2.11.0.dev20261128+cu130"),
        vllm=VllmChoice("git", commit="abc"),
        build_key="k",
        **facts,
    )  # type: ignore[arg-type]
    return CellResult(
        id="c", run="r", outcome="pass", cell={"gpu": "sm_120", "dtype": "bfloat16"}, facts=state
    )


def test_the_cache_key_is_the_recorded_one_else_derived_from_resolved_facts() -> None:
    assert model.cache_key({}, _result(cache_key="ck1")) == ("ck1", False)
    derived, is_derived = model.cache_key({"gpu": "sm_120"}, _result())
    assert is_derived and derived is not None and derived.startswith("derived:")
    assert model.cache_key({"gpu": "sm_120"}, _result()) == (derived, True), "stable"
    assert model.cache_key({"gpu": "sm_100"}, _result())[0] != derived, "the GPU is part of the inputs"
    bare = CellResult(id="c", run="r", outcome="skip", cell={})
    assert model.cache_key({}, bare) == (None, True), "nothing resolved: nothing to compare"


def test_a_nightly_column_comes_from_the_torch_version_when_the_index_answer_is_absent() -> None:
    result = _result()
    assert model.torch_column({"torch": "nightly:latest"}, result) == ("2026-11-28", "2026-11-28")


def test_cached_and_no_result_statuses() -> None:
    cached = CellResult(id="a", run="r2", outcome="fail", cell={}, cached_from=CachedFrom("r1", "a"))
    (view,) = model.views([Entry("a", "r2", "result", result=cached)])
    assert (view.status, view.verdict, view.marks) == (CACHED, "fail", (CACHED, "fail"))
    (missing,) = model.views([Entry("b", "r2", NO_RESULT, reason="planned, but no artifact came back")])
    assert (missing.status, missing.verdict, missing.decisive) == (
        NO_RESULT,
        None,
        "planned, but no artifact came back",
    )
    assert model.failures([view, missing]) == [view, missing]


def test_pages_are_unique_when_two_runs_hold_the_same_cell() -> None:
    entries = [
        Entry(PASSES, run, "result", result=CellResult(id=PASSES, run=run, outcome="pass", cell={}))
        for run in ("r1", "r2")
    ]
    assert [v.page for v in model.views(entries)] == [f"cells/{PASSES}.html", f"cells/{PASSES}.r2.html"]

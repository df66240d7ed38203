"""suites: how the FA version reaches this vLLM ref, the per-cell cache root, and a real pytest run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cellctx import context

from vllm_matrix.junit import read_suites
from vllm_matrix.stages import suites, venv
from vllm_matrix.stages.base import StageContext, StageError, StageFailed


def _fake_vllm(ctx: StageContext, envs: str = "", attention: str = "") -> None:
    pkg = ctx.venv / "lib" / "python3.12" / "site-packages" / "vllm"
    (pkg / "config").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "envs.py").write_text(envs)
    (pkg / "config" / "attention.py").write_text(attention)


ENV_READ = "VLLM_FLASH_ATTN_VERSION: int | None = None\n"
ARG_READ = "class AttentionConfig:\n    flash_attn_version: int | None = None\n"


@pytest.mark.parametrize(
    ("envs", "attention", "mechanism", "env_var"),
    [
        (ENV_READ, "", "env", "3"),
        ("", ARG_READ, "engine_arg", None),
        (ENV_READ, ARG_READ, "env+engine_arg", "3"),
    ],
)
def test_fa_version_goes_the_way_the_ref_understands(
    tmp_path: Path, envs: str, attention: str, mechanism: str, env_var: str | None
) -> None:
    ctx = context(tmp_path, {"flash_attn": 3, "gpu": "sm_120", "cuda": "cu128", "arch": "12.0"})
    _fake_vllm(ctx, envs, attention)
    env = suites.suite_env(ctx)
    assert ctx.state.fa_mechanism == mechanism
    assert env["VLLM_MATRIX_FA_VERSION"] == "3" and env["VLLM_MATRIX_FA_MECHANISM"] == mechanism
    assert env.get("VLLM_FLASH_ATTN_VERSION") == env_var
    assert env["VLLM_MATRIX_DEVICE"] == "cuda" and env["VLLM_MATRIX_DTYPE"] == "bfloat16"


def test_no_fa_version_sets_nothing(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"dtype": "float32", "enforce_eager": True})
    env = suites.suite_env(ctx)
    assert "VLLM_MATRIX_FA_VERSION" not in env and "VLLM_FLASH_ATTN_VERSION" not in env
    assert ctx.state.fa_mechanism is None
    assert (env["VLLM_MATRIX_DEVICE"], env["VLLM_MATRIX_DTYPE"], env["VLLM_MATRIX_ENFORCE_EAGER"]) == (
        "cpu", "float32", "1")  # fmt: skip


def test_each_cell_starts_with_an_empty_cache_root(tmp_path: Path) -> None:
    ctx = context(tmp_path, {})
    stale = ctx.work.cache_roots / "c" / "torch_compile_cache" / "stale"
    stale.parent.mkdir(parents=True)
    stale.write_text("from yesterday's torch")
    env = suites.suite_env(ctx)
    assert env["VLLM_CACHE_ROOT"] == str(ctx.work.cache_roots / "c")
    assert not stale.exists() and Path(env["VLLM_CACHE_ROOT"]).is_dir()


def test_missing_payload_is_a_harness_problem_not_a_cell_failure(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, {"VLLM_MATRIX_PAYLOAD_DIR": str(tmp_path / "nowhere")}, stage="suites")
    with pytest.raises(StageError, match="payload suites"):
        suites.run(ctx)


def test_default_payload_is_the_installed_packages_own() -> None:
    found = suites.payload_dir({})
    assert (found / "pytest-payload.ini").is_file()
    assert (found / "kernels").is_dir() and (found / "generation").is_dir()
    assert found.parent == Path(suites.__file__).resolve().parents[1]  # vllm_matrix/payload


@pytest.mark.slow
def test_real_pytest_run_in_the_cell_venv_counts_failures_and_tags_junit(tmp_path: Path) -> None:
    payload = tmp_path / "payload"
    (payload / "kernels").mkdir(parents=True)
    (payload / "pytest-payload.ini").write_text("[pytest]\naddopts = -ra\n")
    (payload / "kernels" / "test_k.py").write_text(
        "import os\n\ndef test_env():\n    assert os.environ['VLLM_MATRIX_CELL_ID'] == 'c'\n\n"
        "def test_numerics():\n    assert 1.0 == 1.5, 'mismatch beyond tolerance'\n"
    )
    env = {"PATH": os.environ["PATH"], "VLLM_MATRIX_PAYLOAD_DIR": str(payload),
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv"))}  # fmt: skip
    ctx = context(tmp_path, {"suites": ["kernels"]}, env, stage="suites")
    ctx.env["UV_CACHE_DIR"] = env["UV_CACHE_DIR"]  # type: ignore[index]  # a warm cache: deps in seconds
    venv.run(ctx.bound("venv"))
    with pytest.raises(StageFailed) as caught:
        suites.run(ctx)
    assert caught.value.message == "1 of 2 tests failed"
    assert caught.value.evidence == ("kernels.test_k::test_numerics",)
    counts = ctx.state.suites
    assert counts is not None and (counts.tests, counts.failures, counts.suites) == (2, 1, ("kernels",))
    suite = read_suites(ctx.cell_dir / "pytest-junit.xml")[0]
    assert suite.name == "c.suites"  # the cell's properties are set when the cell ends (test_junit)


def test_cpu_cells_isolate_crashing_kernels_in_xdist_workers_gpu_cells_run_serially(tmp_path: Path) -> None:
    tests, junit = tmp_path / "tests", tmp_path / "j.xml"
    cpu = suites.pytest_argv(context(tmp_path / "a", {}), tests, [tests / "kernels"], junit)
    gpu_ctx = context(tmp_path / "b", {"gpu": "sm_120", "cuda": "cu128", "arch": "12.0"})
    gpu = suites.pytest_argv(gpu_ctx, tests, [tests / "kernels"], junit)
    assert cpu[cpu.index("-n") + 1] == "2"
    assert "-n" not in gpu

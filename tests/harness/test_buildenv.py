"""buildenv: the MAX_JOBS / NVCC_THREADS / CUDA_HOME / cache choices of a source build."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_matrix import buildenv
from vllm_matrix.buildenv import GIB, build_env, choose_jobs, find_cuda_home, launcher_env, mem_available


def no_tools(_: str) -> str | None:
    return None


@pytest.mark.parametrize(
    ("mem_gib", "cores", "expected"),
    [
        (64, 64, 4),  # the known-safe point: 64 GB at MAX_JOBS=4
        (128, 64, 8),  # 128 GB was OOM-killed at 64 jobs: far fewer here
        (24, 2, 1),
        (512, 16, 16),  # plenty of memory: cores decide
        (4, 8, 1),  # never zero
    ],
)
def test_cuda_max_jobs_follow_free_memory_before_cores(mem_gib: int, cores: int, expected: int) -> None:
    jobs = choose_jobs(mem_gib * GIB, cores, "12.0", "cuda", {})
    assert jobs.max_jobs == expected
    assert f"MAX_JOBS={expected}" in jobs.reason
    assert f"{cores} cores" in jobs.reason


@pytest.mark.parametrize(
    ("cuda", "device"),
    [("cu128", "cuda"), ("cu130", "cuda"), ("cpu", "cpu"), ("rocm6.4", "rocm"), ("xpu", "xpu")],
)
def test_target_device_follows_the_cuda_variant(cuda: str, device: str) -> None:
    assert buildenv.target_device(cuda) == device


def test_cpu_builds_budget_less_memory_per_job() -> None:
    assert choose_jobs(24 * GIB, 16, "", "cpu", {}).max_jobs == 8
    assert choose_jobs(24 * GIB, 16, "", "cuda", {}).max_jobs == 1


def test_user_max_jobs_and_nvcc_threads_win() -> None:
    jobs = choose_jobs(8 * GIB, 2, "12.0", "cuda", {"MAX_JOBS": "32", "NVCC_THREADS": "4"})
    assert (jobs.max_jobs, jobs.nvcc_threads) == (32, 4)
    assert "set in the environment" in jobs.reason


def test_garbage_max_jobs_in_environment_is_ignored() -> None:
    assert choose_jobs(64 * GIB, 64, "12.0", "cuda", {"MAX_JOBS": "lots"}).max_jobs == 4


def test_unknown_memory_stays_at_two_jobs() -> None:
    jobs = choose_jobs(None, 64, "12.0", "cuda", {})
    assert jobs.max_jobs == 2
    assert "unknown" in jobs.reason


def test_nvcc_threads_one_per_arch_within_max_jobs() -> None:
    assert choose_jobs(256 * GIB, 64, "9.0a;10.0;12.0", "cuda", {}).nvcc_threads == 3
    assert choose_jobs(16 * GIB, 64, "9.0a;10.0;12.0", "cuda", {}).nvcc_threads == 1
    assert choose_jobs(256 * GIB, 64, "", "cpu", {}).nvcc_threads == 1


def test_mem_available_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  24684096 kB\nMemFree: 1 kB\nMemAvailable:   2048 kB\n")
    assert mem_available(meminfo) == 2048 * 1024
    meminfo.write_text("MemTotal: 1 kB\n")
    assert mem_available(meminfo) is None
    assert mem_available(tmp_path / "absent") is None


def make_toolkit(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "bin" / "nvcc").write_text("#!/bin/sh\n")
    (root / "include" / "cuda_runtime.h").write_text("")
    return root


def test_cuda_home_from_environment(tmp_path: Path) -> None:
    toolkit = make_toolkit(tmp_path / "cuda-13.0")
    home, why = find_cuda_home({"CUDA_HOME": str(toolkit)}, no_tools)
    assert home == toolkit
    assert "CUDA_HOME" in why


def test_cuda_home_from_nvcc_on_path(tmp_path: Path) -> None:
    toolkit = make_toolkit(tmp_path / "cuda-12.8")
    home, why = find_cuda_home({"CUDA_HOME": str(tmp_path / "nope")}, lambda _: str(toolkit / "bin" / "nvcc"))
    assert home == toolkit
    assert "nvcc on PATH" in why


def test_nvcc_wrapper_outside_a_toolkit_is_not_cuda_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapper = tmp_path / "usr" / "bin" / "nvcc"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text("#!/bin/sh\nexec /opt/cuda/bin/nvcc\n")
    fallback = make_toolkit(tmp_path / "local-cuda")
    monkeypatch.setattr(buildenv, "CUDA_HOME_FALLBACK", fallback)
    home, why = find_cuda_home({}, lambda _: str(wrapper))
    assert home == fallback
    assert "not inside a toolkit" in why


def test_no_toolkit_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buildenv, "CUDA_HOME_FALLBACK", tmp_path / "absent")
    home, why = find_cuda_home({}, no_tools)
    assert home is None
    assert "no CUDA toolkit" in why


def test_ccache_gets_nohashdir_and_launchers(tmp_path: Path) -> None:
    def only_ccache(tool: str) -> str | None:
        return "/usr/bin/ccache" if tool == "ccache" else None

    env, why = launcher_env(only_ccache, tmp_path, tmp_path / "src")
    assert env["CCACHE_NOHASHDIR"] == "true"
    assert env["CMAKE_CXX_COMPILER_LAUNCHER"] == "ccache"
    assert env["CMAKE_CUDA_COMPILER_LAUNCHER"] == "ccache"
    assert env["CCACHE_BASEDIR"] == str(tmp_path / "src")
    assert why.startswith("ccache")


def test_sccache_preferred_like_vllm_setup_py(tmp_path: Path) -> None:
    env, why = launcher_env(lambda t: f"/usr/bin/{t}", tmp_path, tmp_path)
    assert env["CMAKE_C_COMPILER_LAUNCHER"] == "sccache"
    assert "SCCACHE_DIR" in env
    assert why.startswith("sccache")


def test_no_compiler_cache(tmp_path: Path) -> None:
    env, why = launcher_env(no_tools, tmp_path, tmp_path)
    assert env == {}
    assert "no sccache or ccache" in why


def test_build_env_for_a_cuda_cell(tmp_path: Path) -> None:
    toolkit = make_toolkit(tmp_path / "cuda")
    result = build_env(
        cuda="cu130",
        arch_list="10.0;12.0",
        fetchcontent_dir=tmp_path / "fc" / "abc",
        cache_dir=tmp_path / "cc",
        source_dir=tmp_path / "src",
        environ={"CUDA_HOME": str(toolkit)},
        mem_bytes=64 * GIB,
        cores=32,
        which=no_tools,
    )
    assert result.env["VLLM_TARGET_DEVICE"] == "cuda"
    assert result.env["TORCH_CUDA_ARCH_LIST"] == "10.0;12.0"
    assert result.env["MAX_JOBS"] == "4"
    assert result.env["NVCC_THREADS"] == "2"
    assert result.env["CUDA_HOME"] == str(toolkit)
    assert result.env["FETCHCONTENT_BASE_DIR"] == str(tmp_path / "fc" / "abc")
    assert "MemAvailable 64.0 GiB" in result.reasons["MAX_JOBS"]


def test_build_env_for_a_cpu_cell_without_arch(tmp_path: Path) -> None:
    result = build_env(
        cuda="cpu",
        arch_list="",
        fetchcontent_dir=tmp_path,
        cache_dir=tmp_path,
        source_dir=tmp_path,
        environ={},
        mem_bytes=24 * GIB,
        cores=2,
        which=no_tools,
    )
    assert result.env["VLLM_TARGET_DEVICE"] == "cpu"
    assert "TORCH_CUDA_ARCH_LIST" not in result.env
    assert "torch picks" in result.reasons["TORCH_CUDA_ARCH_LIST"]

"""fetchcontent: the revisions a ref pins, the offline dir mapped to vLLM's variables, the warnings.

Source dirs are small git repositories made here (never third-party code);
the pins are also read from the real vLLM 0.32.0 sdist's cmake files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from sdistfiles import real_sdist

from vllm_matrix import fetchcontent, sdist

CMAKE = """\
set(CUTLASS_REVISION "v4.7.1" CACHE STRING "CUTLASS revision")
# FetchContent_Declare(commented GIT_REPOSITORY https://example.invalid/x.git GIT_TAG nope)
if (VLLM_CUTLASS_SRC_DIR)
  FetchContent_Declare(cutlass SOURCE_DIR ${VLLM_CUTLASS_SRC_DIR})
else()
  FetchContent_Declare(
      cutlass
      GIT_REPOSITORY https://github.com/nvidia/cutlass.git  # the upstream
      GIT_TAG ${CUTLASS_REVISION}
      GIT_SHALLOW TRUE)
endif()
"""
CPU_CMAKE = """\
if(ASIMD_FOUND)
  FetchContent_Declare(oneDNN GIT_REPOSITORY https://github.com/oneapi-src/oneDNN.git
                       GIT_TAG 9c5be1cc59e368aebf0909e6cf20f981ea61462a)
else()
  FetchContent_Declare(oneDNN GIT_REPOSITORY https://github.com/oneapi-src/oneDNN.git GIT_TAG v3.13)
endif()
"""
TRITON_CMAKE = """\
set(TRITON_GIT "https://github.com/triton-lang/triton.git")
set(TRITON_KERNELS_TAG "v3.5.1")
FetchContent_Declare(triton_kernels GIT_REPOSITORY ${TRITON_GIT} GIT_TAG ${TRITON_KERNELS_TAG})
"""
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
TRITON = "https://github.com/triton-lang/triton.git"


def vllm_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "vllm"
    (tree / "cmake" / "external_projects").mkdir(parents=True)
    (tree / "CMakeLists.txt").write_text(CMAKE)
    (tree / "cmake" / "cpu_extension.cmake").write_text(CPU_CMAKE)
    (tree / "cmake" / "external_projects" / "triton_kernels.cmake").write_text(TRITON_CMAKE)
    return tree


def git_repo(path: Path, tag: str | None = None, files: dict[str, str] | None = None) -> str:
    """A one-commit repository at ``path`` (tagged ``tag``); its commit."""
    path.mkdir(parents=True)
    for name, text in (files or {"README": path.name}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"], *([["tag", tag]] if tag else [])):
        subprocess.run(["git", "-C", str(path), *args], env=env, check=True, timeout=60)
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    return done.stdout.strip()


def test_pins_are_read_with_variables_resolved_and_comments_ignored(tmp_path: Path) -> None:
    pins = fetchcontent.read_pins(vllm_tree(tmp_path))
    assert pins["cutlass"] == fetchcontent.Pin(("https://github.com/nvidia/cutlass.git",), ("v4.7.1",))
    assert pins["onednn"].revisions == ("9c5be1cc59e368aebf0909e6cf20f981ea61462a", "v3.13")  # both branches
    assert pins["tritonkernels"] == fetchcontent.Pin((TRITON,), ("v3.5.1",))
    assert "commented" not in pins


def test_the_table_names_every_variable_the_issue_lists() -> None:
    variables = {p.variable for p in fetchcontent.projects()}
    assert variables >= {
        "FETCHCONTENT_SOURCE_DIR_ONEDNN", "VLLM_CUTLASS_SRC_DIR", "VLLM_FLASH_ATTN_SRC_DIR",
        "FLASH_MLA_SRC_DIR", "QUTLASS_SRC_DIR", "DEEPGEMM_SRC_DIR", "TRITON_KERNELS_SRC_DIR",
        "FMHA_SM100_SRC_DIR", "TML_FA4_SRC_DIR",
    }  # fmt: skip


def test_a_provided_tree_at_the_pin_is_mapped_to_its_variable(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    commit = git_repo(offline / "oneDNN-src", tag="v3.13")
    plan = fetchcontent.plan(vllm_tree(tmp_path), device="cpu", base_dir=tmp_path / "deps",
                             offline_dir=offline, environ={}, machine="x86_64")  # fmt: skip
    assert plan.env == {"FETCHCONTENT_SOURCE_DIR_ONEDNN": str(offline / "oneDNN-src")}
    (entry,) = plan.facts.entries  # a CPU build on x86_64 fetches oneDNN only
    assert (entry.name, entry.source, entry.matches) == ("onednn", "provided", True)
    assert (entry.provided_commit, entry.provided_tags) == (commit, ("v3.13",))
    assert entry.pinned == ("9c5be1cc59e368aebf0909e6cf20f981ea61462a", "v3.13")
    assert plan.facts.warnings == () and plan.facts.needs_network == ()


def test_a_provided_tree_at_another_revision_is_used_with_a_warning(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    git_repo(offline / "cutlass", tag="v4.6.0")
    git_repo(offline / "triton_kernels-src", files={"python/triton_kernels/triton_kernels/__init__.py": ""})
    (offline / "notes").mkdir()
    plan = fetchcontent.plan(vllm_tree(tmp_path), device="cuda", base_dir=tmp_path / "deps",
                             offline_dir=offline, environ={}, machine="x86_64")  # fmt: skip
    by_name = {e.name: e for e in plan.facts.entries}
    assert by_name["cutlass"].source == "provided" and by_name["cutlass"].matches is False
    assert plan.env["VLLM_CUTLASS_SRC_DIR"] == str(offline / "cutlass")
    # the variable points at the python package inside the triton checkout, as vLLM expects
    inner = offline / "triton_kernels-src" / "python" / "triton_kernels" / "triton_kernels"
    assert plan.env["TRITON_KERNELS_SRC_DIR"] == str(inner)
    assert by_name["triton_kernels"].matches is False  # HEAD is not v3.5.1
    warnings = "\n".join(plan.facts.warnings)
    assert f"cutlass: {offline / 'cutlass'} is at " in warnings
    assert "(v4.6.0), but this vLLM pins v4.7.1" in warnings
    assert plan.facts.unused == ("notes",)
    assert "onednn" not in by_name  # not a CUDA build's


def test_what_is_not_provided_comes_from_the_network_or_an_earlier_fetch(tmp_path: Path) -> None:
    offline, deps = tmp_path / "offline", tmp_path / "deps"
    offline.mkdir()
    (deps / "cutlass-src").mkdir(parents=True)
    plan = fetchcontent.plan(vllm_tree(tmp_path), device="cuda", base_dir=deps, offline_dir=offline,
                             environ={}, machine="x86_64")  # fmt: skip
    by_name = {e.name: e for e in plan.facts.entries}
    assert by_name["cutlass"].source == "cached"
    assert by_name["triton_kernels"].source == "network" and "triton_kernels" in plan.facts.needs_network
    assert f"triton_kernels: not in {offline}: the build fetches {TRITON} at v3.5.1" in plan.facts.warnings
    assert plan.env == {}


def test_a_variable_the_user_set_is_kept_and_checked(tmp_path: Path) -> None:
    mine = tmp_path / "my-onednn"
    mine.mkdir()
    environ = {"FETCHCONTENT_SOURCE_DIR_ONEDNN": str(mine)}
    plan = fetchcontent.plan(vllm_tree(tmp_path), device="cpu", base_dir=tmp_path / "deps", offline_dir=None,
                             environ=environ, machine="x86_64")  # fmt: skip
    (entry,) = plan.facts.entries
    assert (entry.source, entry.provided, entry.matches) == ("environment", str(mine), None)
    assert plan.env == {}  # already in the build's environment
    assert plan.facts.warnings == (
        f"onednn: cannot check the revision of {mine} (not a git checkout); this vLLM pins "
        "9c5be1cc59e368aebf0909e6cf20f981ea61462a or v3.13",
    )


def test_a_pinned_commit_matches_a_checkout_at_it(tmp_path: Path) -> None:
    commit = git_repo(tmp_path / "repo")
    assert fetchcontent.at_pin(tmp_path / "repo", commit, (), (commit[:12],)) is True
    assert fetchcontent.at_pin(tmp_path / "repo", commit, (), ("0" * 40,)) is False
    assert fetchcontent.at_pin(tmp_path / "repo", None, (), ("v1",)) is None


def test_fetched_names_the_sources_that_appeared(tmp_path: Path) -> None:
    (tmp_path / "cutlass-src").mkdir()
    before = fetchcontent.sources_in(tmp_path)
    (tmp_path / "onednn-src").mkdir()
    (tmp_path / "onednn-subbuild").mkdir()
    assert fetchcontent.fetched(tmp_path, before) == ("onednn",)


@pytest.mark.slow
def test_the_real_032_sdist_pins(tmp_path: Path) -> None:
    archive = real_sdist("0.32.0")
    tree = sdist.unpack(archive, tmp_path / "tree", sdist.sha256_of(archive))
    pins = fetchcontent.read_pins(tree)
    assert pins["cutlass"].revisions == ("v4.7.1",)
    assert pins["onednn"].revisions == ("9c5be1cc59e368aebf0909e6cf20f981ea61462a", "v3.13")
    assert pins["vllmflashattn"].revisions == ("9cd61de38763d712bb6ce56e2a02cc2bf718c89f",)
    assert pins["deepgemm"].revisions == ("1e1842a833699298f7afc02eefb2ed168fff6938",)  # a set() variable
    assert "v3.5.1" in pins["tritonkernels"].revisions
    # every project of the table that a CUDA build of 0.32.0 fetches has a pin
    plan = fetchcontent.plan(tree, device="cuda", base_dir=tmp_path / "deps", offline_dir=None, environ={},
                             machine="x86_64")  # fmt: skip
    assert all(e.pinned for e in plan.facts.entries), [e.name for e in plan.facts.entries if not e.pinned]
    assert len(plan.facts.needs_network) == len(plan.facts.entries) == 10

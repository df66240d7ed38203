"""uv command lines: torch index priority, find-links directories, the overrides file, a clean env."""

from __future__ import annotations

from pathlib import Path

from cellctx import context

from vllm_matrix.prebuilt.overrides import shipped as shipped_overrides
from vllm_matrix.stages import uv


def test_local_release_index_is_find_links_and_pypi_the_default_index(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, {"VLLM_MATRIX_INDEX_RELEASE": str(tmp_path / "wheels")})
    wheels, best = str(tmp_path / "wheels"), ["--index-strategy", "unsafe-best-match"]
    assert uv.index_args(ctx) == ["--find-links", wheels, *best, "--default-index", "https://pypi.org/simple"]


def test_url_index_has_priority_over_pypi(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"torch": "nightly:latest", "cuda": "cu130", "gpu": "sm_120"},
                  {"VLLM_MATRIX_INDEX_PYPI": "http://127.0.0.1:9/simple"})  # fmt: skip
    assert uv.index_args(ctx) == [
        "--index", "https://download.pytorch.org/whl/nightly/cu130", "--index-strategy", "unsafe-best-match",
        "--default-index", "http://127.0.0.1:9/simple",
    ]  # fmt: skip
    assert uv.index_args(ctx, with_torch_index=False) == ["--default-index", "http://127.0.0.1:9/simple"]


def test_offline_pypi_mirror_directory_means_no_index(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, {"VLLM_MATRIX_INDEX_RELEASE": "/w", "VLLM_MATRIX_INDEX_PYPI": "/p"})
    assert uv.index_args(ctx) == [
        "--find-links", "/w", "--index-strategy", "unsafe-best-match", "--find-links", "/p", "--no-index",
    ]  # fmt: skip


def test_overrides_keep_pypi_vision_audio_codec_out() -> None:
    lines = [
        line for line in shipped_overrides().read_text().splitlines() if line and not line.startswith("#")
    ]
    assert lines == [f'{pkg}; sys_platform == "never"' for pkg in ("torchvision", "torchaudio", "torchcodec")]


def test_user_uv_settings_do_not_leak_into_cells(tmp_path: Path) -> None:
    env = uv.base_env(tmp_path / "cache", {"UV_INDEX_URL": "http://evil", "VIRTUAL_ENV": "/x", "HOME": "/h"})
    assert "UV_INDEX_URL" not in env and "VIRTUAL_ENV" not in env and env["HOME"] == "/h"
    assert env["UV_CACHE_DIR"] == str(tmp_path / "cache") and env["UV_NO_CONFIG"] == "1"


def test_no_uv_cache_leaves_uvs_own_choice(tmp_path: Path) -> None:
    assert "UV_CACHE_DIR" not in uv.base_env(None, {"HOME": "/h"})
    assert uv.base_env(None, {"UV_CACHE_DIR": "/mine"})["UV_CACHE_DIR"] == "/mine"

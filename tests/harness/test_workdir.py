"""The work dir: where it is, the uv cache choice, and the lock that keeps two runs apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_matrix.errors import HarnessError, InputError
from vllm_matrix.workdir import Workdir


def test_explicit_beats_environment_beats_user_cache(tmp_path: Path) -> None:
    env = {"VLLM_MATRIX_WORKDIR": str(tmp_path / "env")}
    assert Workdir.resolve(tmp_path / "arg", env).root == tmp_path / "arg"
    assert Workdir.resolve(None, env).root == tmp_path / "env"
    assert Workdir.resolve(None, {}).root.name == "vllm-matrix"


def test_uv_cache_choice(tmp_path: Path) -> None:
    # $UV_CACHE_DIR wins; the default work dir shares uv's default cache; an explicit one keeps its own.
    assert Workdir.resolve(tmp_path, {"UV_CACHE_DIR": str(tmp_path / "u")}).uv_cache == tmp_path / "u"
    assert Workdir.resolve(None, {}).uv_cache is None
    assert Workdir.resolve(tmp_path, {}).uv_cache == tmp_path / "uv-cache"
    assert Workdir.resolve(None, {"VLLM_MATRIX_WORKDIR": str(tmp_path)}).uv_cache == tmp_path / "uv-cache"


def test_second_run_on_the_same_workdir_is_refused(tmp_path: Path) -> None:
    work = Workdir.resolve(tmp_path / "w", {})
    with work.lock():
        assert work.venvs.is_dir() and work.git_dir.is_dir() and work.cache_roots.is_dir()
        with pytest.raises(HarnessError, match="in use by another vllm-matrix run"), work.lock():
            pass
    with work.lock():  # released after the first run ends
        pass


def test_uncreatable_workdir_is_bad_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot create"):
        Workdir.resolve(blocker / "sub", {}).ensure()

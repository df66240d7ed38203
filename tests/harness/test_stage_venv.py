"""venv: a real ``uv venv`` per build key, and the free-disk check that comes first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cellctx import context

from vllm_matrix.stages import venv
from vllm_matrix.stages.base import StageError


def _env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"]}


def test_creates_a_venv_with_the_cells_python_and_clears_a_half_built_one(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, _env(), stage="venv")
    ctx.venv.mkdir(parents=True)
    (ctx.venv / "leftover").write_text("from a killed build")
    venv.run(ctx)
    assert ctx.python.exists() and not (ctx.venv / "leftover").exists()
    assert "venv --clear --python" in ctx.log.read_text()
    assert ctx.state.disk is not None and ctx.state.disk.needed_bytes == int(
        venv.NEEDED_GIB["wheel"] * venv.GIB
    )


def test_a_source_build_needs_more_room_than_a_wheel(tmp_path: Path) -> None:
    built = context(tmp_path / "b", {"vllm": "git:main", "arch": "12.0"}, _env())
    wheel = context(tmp_path / "w", {}, _env())
    assert venv.needed_bytes(built) == 30 * venv.GIB > venv.needed_bytes(wheel) == 6 * venv.GIB


def test_free_space_requirement_is_adjustable(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, {**_env(), "VLLM_MATRIX_MIN_FREE_GB": "0.001"}, stage="venv")
    venv.check_disk(ctx)
    ctx.env["VLLM_MATRIX_MIN_FREE_GB"] = "99999999"
    with pytest.raises(StageError) as caught:
        venv.check_disk(ctx)
    message = caught.value.message
    assert message.startswith("not enough free disk for the venv: ") and "99999999.0 GiB needed" in message
    assert "GiB free on " in message and "--workdir" in message
    assert not ctx.venv.exists()

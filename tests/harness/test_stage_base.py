"""StageContext: what every stage shares (here: the PATH builds see)."""

from __future__ import annotations

import os
from pathlib import Path

from cellctx import context

from vllm_matrix.stages.state import TorchChoice


def test_a_build_sees_the_venv_bin_then_the_callers_path(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, env={"PATH": "/usr/bin"})
    assert ctx.tool_path.split(os.pathsep) == [str(ctx.venv / "bin"), "/usr/bin"]


def test_an_existing_torch_lends_its_bin_so_its_cmake_wins_over_the_systems(tmp_path: Path) -> None:
    # The lent H200's image has cmake 4.4 in /opt/torch/.venv/bin; Debian's /usr/bin/cmake 3.25
    # is too old for vLLM (cmake_minimum_required 3.26), and the overrides never install another.
    ctx = context(tmp_path, {"torch": "existing:/opt/torch/.venv/bin/python3"}, env={"PATH": "/usr/bin"})
    ctx.state.torch = TorchChoice(
        ctx.cell.torch, "existing", "2.11.0+cu130", interpreter="/opt/torch/.venv/bin/python3"
    )
    assert ctx.tool_path.split(os.pathsep) == [str(ctx.venv / "bin"), "/opt/torch/.venv/bin", "/usr/bin"]

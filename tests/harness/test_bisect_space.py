"""A step's cell: its own id, and n/a decided for the candidate's values, not the bisected cell's."""

from __future__ import annotations

from pathlib import Path

from vllm_matrix.bisect.space import step_cell
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig


def test_each_candidate_gets_its_own_id_and_its_own_applicability(tmp_path: Path) -> None:
    config = MatrixConfig(path=tmp_path / "matrix.toml", axes={})
    base = Cell("bw", python="3.12", torch="nightly:latest", cuda="cu130", arch="12.0", vllm="git:main",
                gpu="sm_120", flash_attn=2)  # fmt: skip
    fa2 = step_cell(config, base, {"flash_attn": 2}, "2")
    fa3 = step_cell(config, base, {"flash_attn": 3}, "3")
    assert (fa2.id, fa2.not_applicable) == ("bw_2", None)
    assert fa3.id == "bw_3" and str(fa3.not_applicable).startswith("vLLM picks FA3 only on SM 9.x")
    # and an n/a cell's candidates are judged afresh too
    cu128 = step_cell(config, base, {"cuda": "cu128", "torch": "nightly:2026-03-01"}, "old")
    assert cu128.not_applicable is None
    late = step_cell(config, cu128, {"torch": "nightly:2026-11-01"}, "late")
    assert str(late.not_applicable).startswith("cu128 nightlies stopped with torch 2.12")

"""Subcommands of ``vllm-matrix``; each module has ``register(subparsers)``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vllm_matrix.matrix import config, expand
from vllm_matrix.matrix.cell import Cell


def load_cells(args: argparse.Namespace) -> tuple[config.MatrixConfig, list[Cell]]:
    """The matrix named by ``--matrix`` / ``$VLLM_MATRIX_FILE``, expanded."""
    path: Path = config.matrix_path(getattr(args, "matrix", None))
    cfg = config.load(path)
    return cfg, expand.expand(cfg)

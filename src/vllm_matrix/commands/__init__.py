"""Subcommands of ``vllm-matrix``; each module has ``register(subparsers)``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vllm_matrix.matrix import config, expand
from vllm_matrix.matrix.cell import Cell


def optional_config(args: argparse.Namespace) -> config.MatrixConfig | None:
    """The matrix file when one is named (``--matrix``, ``$VLLM_MATRIX_FILE``) or ./matrix.toml exists.

    For commands that work without a matrix (classify, nightlies) but honour one: a named
    file that is missing or broken is still bad input.
    """
    explicit = getattr(args, "matrix", None)
    path = config.matrix_path(explicit)
    if path == Path(config.DEFAULT_MATRIX) and not explicit and not path.is_file():
        return None
    return config.load(path)


def load_cells(args: argparse.Namespace) -> tuple[config.MatrixConfig, list[Cell]]:
    """The matrix named by ``--matrix`` / ``$VLLM_MATRIX_FILE``, expanded."""
    path: Path = config.matrix_path(getattr(args, "matrix", None))
    cfg = config.load(path)
    return cfg, expand.expand(cfg)

"""source, for ``wheel:<requirement>`` cells: install a released or nightly vLLM wheel; no build.

Torch must survive the install: PyPI's torchvision/torchaudio/torchcodec are
kept out by the override file, and torch is checked before and after.
"""

from __future__ import annotations

from vllm_matrix.stages import torch, uv
from vllm_matrix.stages.base import StageContext

STAGE = "source"


def run(ctx: StageContext) -> None:
    """``uv pip install <requirement>`` into the cell venv, then the TORCH_OVERRIDDEN check."""
    requirement = ctx.record["vllm"]["requirement"]
    uv.pip_install(ctx, STAGE, [requirement], what=f"installing {requirement}")
    torch.ensure_unchanged(ctx, STAGE)

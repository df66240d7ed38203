"""Deterministic inputs for kernel tests, and which dtypes each device runs."""

from __future__ import annotations

import torch

TORCH_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def kernel_dtypes(names: tuple[str, ...]) -> tuple[torch.dtype, ...]:
    """The torch dtypes the kernel suite runs (VLLM_MATRIX_KERNEL_DTYPES, default the cell's)."""
    return tuple(TORCH_DTYPES[n] for n in names)


def dtype_id(dtype: torch.dtype) -> str:
    """Short test id for a dtype: bf16, fp16, fp32."""
    return {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32"}.get(dtype, str(dtype))


def randn(
    shape: tuple[int, ...], dtype: torch.dtype, device: str, gen_seed: int, scale: float = 1.0
) -> torch.Tensor:
    """Normal samples drawn on the CPU from ``gen_seed`` (same numbers on every device)."""
    gen = torch.Generator().manual_seed(gen_seed)
    return (torch.randn(shape, generator=gen, dtype=torch.float32) * scale).to(dtype=dtype, device=device)


def sync(device: str) -> None:
    """Wait for the device, so a kernel's asynchronous error surfaces in the test that caused it."""
    if device == "cuda":
        torch.cuda.synchronize()

"""scaled_fp8_quant and the int8 quant ops against float32 quantisation.

Quantised outputs cannot hold NaN, so these tests detect unwritten elements
by running each op twice over two different poison fills: any element the
kernel skipped keeps its poison and the two runs disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from payload_common import ops
from payload_common.checks import assert_close
from payload_common.plugin import cases, current
from payload_common.tensors import dtype_id, kernel_dtypes, randn, sync

ENV = current()
DTYPES = pytest.mark.parametrize("dtype", kernel_dtypes(ENV.kernel_dtypes), ids=dtype_id)
SHAPES = {
    "tokens": st.integers(1, 70),
    "hidden": st.sampled_from([16, 64, 528, 1024, 5120]),
    "gen": st.integers(0, 2**31 - 1),
}
FP8 = torch.float8_e4m3fn


def _twice(run: Callable[[torch.Tensor], None], out: torch.Tensor, what: str) -> torch.Tensor:
    """Run ``run(out)`` over two poison fills; fail if any element kept its poison."""
    results = []
    for fill in (0x55, 0x2A):
        out.view(torch.uint8).fill_(fill)
        run(out)
        sync(ENV.device)
        results.append(out.view(torch.uint8).clone())
    unwritten = results[0] != results[1]
    assert not unwritten.any(), f"{what}: {int(unwritten.sum())} of {out.numel()} elements never written"
    return out


def _int8_ref(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.round(x.float() / scale.float()).clamp(-128, 127)


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_static_scaled_int8_quant(dtype: torch.dtype, tokens: int, hidden: int, gen: int) -> None:
    """q = round(x / scale), clamped to int8, with a given per-tensor scale."""
    op = ops.require("_C::static_scaled_int8_quant", ENV.device)
    x = randn((tokens, hidden), dtype, ENV.device, gen, scale=3.0)
    scale = torch.tensor([0.05], dtype=torch.float32, device=ENV.device)
    out = torch.empty((tokens, hidden), dtype=torch.int8, device=ENV.device)
    _twice(lambda o: op(o, x, scale, None), out, "static_scaled_int8_quant")
    assert_close(out, _int8_ref(x, scale), "int8_quant", f"static int8 {tokens}x{hidden}")


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_dynamic_scaled_int8_quant(dtype: torch.dtype, tokens: int, hidden: int, gen: int) -> None:
    """Per-token scale = absmax / 127; q = round(x / scale)."""
    op = ops.require("_C::dynamic_scaled_int8_quant", ENV.device)
    x = randn((tokens, hidden), dtype, ENV.device, gen, scale=3.0)
    out = torch.empty((tokens, hidden), dtype=torch.int8, device=ENV.device)
    scales = torch.full((tokens, 1), float("nan"), dtype=torch.float32, device=ENV.device)
    _twice(lambda o: op(o, x, scales, None), out, "dynamic_scaled_int8_quant")
    expected_scale = x.float().abs().amax(dim=-1, keepdim=True) / 127.0
    assert_close(scales, expected_scale, None, f"dynamic int8 scales {tokens}x{hidden}")
    assert_close(out, _int8_ref(x, scales), "int8_quant", f"dynamic int8 {tokens}x{hidden}")


def _fp8_max() -> float:
    return float(torch.finfo(FP8).max)


@pytest.mark.kernels
@pytest.mark.parametrize("mode", ["static", "dynamic", "per_token"])
@DTYPES
@cases()
@given(**SHAPES)
def test_scaled_fp8_quant(mode: str, dtype: torch.dtype, tokens: int, hidden: int, gen: int) -> None:
    """Dequantised fp8 equals x within one fp8 step; scales equal absmax / fp8 max."""
    qualname = {
        "static": "_C::static_scaled_fp8_quant",
        "dynamic": "_C::dynamic_scaled_fp8_quant",
        "per_token": "_C::dynamic_per_token_scaled_fp8_quant",
    }[mode]
    ops.require(qualname, ENV.device)
    from vllm import _custom_ops as vops

    x = randn((tokens, hidden), dtype, ENV.device, gen, scale=3.0)
    static_scale = torch.tensor([0.02], dtype=torch.float32, device=ENV.device)
    scale_holder: list[torch.Tensor] = []

    def run(out: torch.Tensor) -> None:
        if mode == "static":
            _, s = vops.scaled_fp8_quant(x, static_scale, output=out)
        else:
            _, s = vops.scaled_fp8_quant(x, use_per_token_if_dynamic=mode == "per_token", output=out)
        scale_holder[:] = [s]

    out = _twice(run, torch.empty((tokens, hidden), dtype=FP8, device=ENV.device), qualname)
    scale = scale_holder[0]
    if mode != "static":
        dims = -1 if mode == "per_token" else None
        absmax = (
            x.float().abs().amax(dim=dims, keepdim=mode == "per_token") if dims else x.float().abs().max()
        )
        expected_scale = (absmax / _fp8_max()).reshape(scale.shape)
        assert_close(scale, expected_scale, None, f"{qualname} scale {tokens}x{hidden}")
    expected = (x.float() / scale.float()).clamp(-_fp8_max(), _fp8_max())
    assert_close(out.float(), expected, "fp8_quant", f"{qualname} {tokens}x{hidden}")

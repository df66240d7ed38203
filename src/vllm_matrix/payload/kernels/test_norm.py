"""rms_norm and fused_add_rms_norm against a float64 reference."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from payload_common import ops
from payload_common.checks import assert_close, poison
from payload_common.plugin import cases, current
from payload_common.tensors import dtype_id, kernel_dtypes, randn, sync

ENV = current()
DTYPES = pytest.mark.parametrize("dtype", kernel_dtypes(ENV.kernel_dtypes), ids=dtype_id)
SHAPES = {
    "tokens": st.integers(1, 70),
    "hidden": st.sampled_from([8, 64, 96, 768, 1000, 4096]),
    "eps": st.sampled_from([1e-6, 1e-5]),
    "gen": st.integers(0, 2**31 - 1),
}


def _rms_ref(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x64 = x.double()
    return x64 * torch.rsqrt(x64.pow(2).mean(-1, keepdim=True) + eps) * weight.double()


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_rms_norm(dtype: torch.dtype, tokens: int, hidden: int, eps: float, gen: int) -> None:
    """out = x / rms(x) * w, written in full (the output starts as NaN)."""
    op = ops.require("_C::rms_norm", ENV.device)
    x = randn((tokens, hidden), dtype, ENV.device, gen)
    weight = randn((hidden,), dtype, ENV.device, gen + 1, scale=0.5) + 1
    out = poison(torch.empty_like(x))
    op(out, x, weight, eps)
    sync(ENV.device)
    assert_close(out, _rms_ref(x, weight, eps), "rms_norm", f"rms_norm {tokens}x{hidden}")


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_fused_add_rms_norm(dtype: torch.dtype, tokens: int, hidden: int, eps: float, gen: int) -> None:
    """residual <- x + residual; x <- rms_norm(residual), both in place."""
    op = ops.require("_C::fused_add_rms_norm", ENV.device)
    x = randn((tokens, hidden), dtype, ENV.device, gen)
    residual = randn((tokens, hidden), dtype, ENV.device, gen + 2)
    weight = randn((hidden,), dtype, ENV.device, gen + 1, scale=0.5) + 1
    summed = x.double() + residual.double()
    expected_out = _rms_ref(summed, weight, eps)
    op(x, residual, weight, eps)
    sync(ENV.device)
    assert_close(residual, summed, None, f"fused_add_rms_norm residual {tokens}x{hidden}")
    assert_close(x, expected_out, "rms_norm", f"fused_add_rms_norm out {tokens}x{hidden}")

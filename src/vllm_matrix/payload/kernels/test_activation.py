"""silu_and_mul and the gelu family against float64 formulas."""

from __future__ import annotations

import math
from collections.abc import Callable

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
F = torch.nn.functional


def _tanh_gelu(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


GATED: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "silu_and_mul": F.silu,
    "gelu_and_mul": F.gelu,
    "gelu_tanh_and_mul": _tanh_gelu,
}
ELEMENTWISE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu_new": _tanh_gelu,
    "gelu_fast": _tanh_gelu,
    "gelu_quick": lambda x: x * torch.sigmoid(1.702 * x),
}
SHAPES = {
    "tokens": st.integers(1, 70),
    "width": st.sampled_from([8, 64, 136, 512, 2048, 11008]),
    "gen": st.integers(0, 2**31 - 1),
}


@pytest.mark.kernels
@pytest.mark.parametrize("name", sorted(GATED))
@DTYPES
@cases()
@given(**SHAPES)
def test_gated_activation(name: str, dtype: torch.dtype, tokens: int, width: int, gen: int) -> None:
    """out = act(x[:, :d]) * x[:, d:] over every element of out."""
    op = ops.require(f"_C::{name}", ENV.device)
    x = randn((tokens, 2 * width), dtype, ENV.device, gen, scale=2.0)
    out = poison(torch.empty((tokens, width), dtype=dtype, device=ENV.device))
    op(out, x)
    sync(ENV.device)
    x64 = x.double()
    expected = GATED[name](x64[:, :width]) * x64[:, width:]
    assert_close(out, expected, None, f"{name} {tokens}x{width}")


@pytest.mark.kernels
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@DTYPES
@cases()
@given(**SHAPES)
def test_gelu_elementwise(name: str, dtype: torch.dtype, tokens: int, width: int, gen: int) -> None:
    """out = gelu variant of x, element by element."""
    op = ops.require(f"_C::{name}", ENV.device)
    x = randn((tokens, width), dtype, ENV.device, gen, scale=2.0)
    out = poison(torch.empty_like(x))
    op(out, x)
    sync(ENV.device)
    family = "gelu_tanh" if name in ("gelu_new", "gelu_fast") else None
    assert_close(out, ELEMENTWISE[name](x.double()), family, f"{name} {tokens}x{width}")

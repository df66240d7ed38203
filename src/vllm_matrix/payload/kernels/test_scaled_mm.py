"""cutlass_scaled_mm (fp8 and int8) against a float32 matmul of the dequantised inputs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from payload_common import ops
from payload_common.checks import assert_close, poison
from payload_common.plugin import cases, current
from payload_common.tensors import randn, sync

ENV = current()
OUT_DTYPES = pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])


def _capability() -> int:
    major, minor = torch.cuda.get_device_capability()
    return major * 10 + minor


@pytest.mark.kernels
@pytest.mark.parametrize("quant", ["fp8", "int8"])
@OUT_DTYPES
@cases()
@given(
    m=st.integers(1, 96),
    n=st.sampled_from([16, 64, 256, 528]),
    k=st.sampled_from([16, 128, 512]),
    per_token=st.booleans(),
    per_channel=st.booleans(),
    gen=st.integers(0, 2**31 - 1),
)
def test_cutlass_scaled_mm(
    quant: str, out_dtype: torch.dtype, m: int, n: int, k: int, per_token: bool, per_channel: bool, gen: int
) -> None:
    """out = (scale_a * a) @ (scale_b * b), written in full; skipped where the device lacks the format."""
    op = ops.require("_C::cutlass_scaled_mm", ENV.device)
    cap = _capability()
    if quant == "fp8" and not torch.ops._C.cutlass_scaled_mm_supports_fp8(cap):
        pytest.skip(f"cutlass fp8 scaled_mm: this build does not support compute capability {cap}")
    qdtype = torch.float8_e4m3fn if quant == "fp8" else torch.int8
    a_f = randn((m, k), torch.float32, "cpu", gen, scale=2.0)
    b_f = randn((n, k), torch.float32, "cpu", gen + 1, scale=2.0)
    if quant == "int8":
        a_q, b_q = a_f.round().clamp(-127, 127).to(qdtype), b_f.round().clamp(-127, 127).to(qdtype)
    else:
        a_q, b_q = a_f.to(qdtype), b_f.to(qdtype)
    scale_a = randn((m, 1) if per_token else (1, 1), torch.float32, "cpu", gen + 2).abs() * 0.1 + 0.01
    scale_b = randn((1, n) if per_channel else (1, 1), torch.float32, "cpu", gen + 3).abs() * 0.1 + 0.01
    out = poison(torch.empty((m, n), dtype=out_dtype, device=ENV.device))
    b_col = b_q.to(ENV.device).t()  # [k, n], column-major as CUTLASS wants
    op(out, a_q.to(ENV.device), b_col, scale_a.to(ENV.device), scale_b.to(ENV.device), None)
    sync(ENV.device)
    expected = (scale_a * a_q.float()) @ (scale_b * b_q.float().t())
    assert_close(out, expected.to(out_dtype), "scaled_mm", f"cutlass_scaled_mm {quant} {m}x{n}x{k}")

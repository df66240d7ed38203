"""fused_moe against a per-expert float32 loop.

CUDA builds: vLLM's fused_experts (Triton) and the topk_softmax router op.
CPU builds: prepack_moe_weight + cpu_fused_moe, as vLLM's CPU experts call them.
"""

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
    "tokens": st.integers(1, 48),
    "hidden": st.sampled_from([64, 128, 256]),
    "inter": st.sampled_from([64, 128, 320]),
    "experts": st.sampled_from([4, 8]),
    "topk": st.sampled_from([1, 2]),
    "gen": st.integers(0, 2**31 - 1),
}


def _moe_ref(
    x: torch.Tensor, w13: torch.Tensor, w2: torch.Tensor, weights: torch.Tensor, ids: torch.Tensor
) -> torch.Tensor:
    """sum_k weight_k * (silu(x W1_e^T) * (x W3_e^T)) W2_e^T, in float32."""
    x, w13, w2 = x.float().cpu(), w13.float().cpu(), w2.float().cpu()
    weights, ids = weights.float().cpu(), ids.long().cpu()
    inter = w2.shape[-1]
    out = torch.zeros(x.shape, dtype=torch.float32)
    for t in range(x.shape[0]):
        for j in range(ids.shape[1]):
            e = int(ids[t, j])
            h = w13[e] @ x[t]
            out[t] += weights[t, j] * (w2[e] @ (torch.nn.functional.silu(h[:inter]) * h[inter:]))
    return out


def _routing(
    tokens: int, experts: int, topk: int, gen: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    logits = randn((tokens, experts), torch.float32, "cpu", gen + 5)
    weights, ids = logits.softmax(dim=-1).topk(topk, dim=-1)
    return logits, weights, ids.to(torch.int32)


def _weights(dtype: torch.dtype, hidden: int, inter: int, experts: int, gen: int) -> tuple[torch.Tensor, ...]:
    w13 = randn((experts, 2 * inter, hidden), dtype, ENV.device, gen + 1, scale=0.1)
    w2 = randn((experts, hidden, inter), dtype, ENV.device, gen + 2, scale=0.1)
    return w13, w2


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_fused_moe(
    dtype: torch.dtype, tokens: int, hidden: int, inter: int, experts: int, topk: int, gen: int
) -> None:
    """The fused MoE layer's output for random routing equals the per-expert loop."""
    x = randn((tokens, hidden), dtype, ENV.device, gen, scale=0.1)  # vLLM's test_moe scales by 1/10
    w13, w2 = _weights(dtype, hidden, inter, experts, gen)
    logits, weights, ids = _routing(tokens, experts, topk, gen)
    what = f"fused_moe t={tokens} h={hidden} i={inter} e={experts} k={topk}"
    if ENV.device == "cpu":
        out = _cpu_fused_moe(x, w13, w2, weights, ids, dtype)
    else:
        out = _cuda_fused_moe(x, w13, w2, logits, weights, ids, what)
    assert_close(out, _moe_ref(x, w13, w2, weights, ids), "fused_moe", what)


def _cpu_fused_moe(x, w13, w2, weights, ids, dtype: torch.dtype) -> torch.Tensor:  # type: ignore[no-untyped-def]
    prepack = ops.require("_C::prepack_moe_weight", ENV.device)
    fused = ops.require("_C::cpu_fused_moe", ENV.device)
    amx = torch.cpu._is_amx_tile_supported() and dtype == torch.bfloat16
    isa = "amx" if amx else "vec"
    w13p, w2p = torch.empty_like(w13), torch.empty_like(w2)
    prepack(w13, w13p, isa)
    prepack(w2, w2p, isa)
    out = poison(torch.empty_like(x))
    fused(out, x, w13p, w2p, None, None, weights, ids, False, "silu", isa)
    return out


def _cuda_fused_moe(x, w13, w2, logits, weights, ids, what: str) -> torch.Tensor:  # type: ignore[no-untyped-def]
    topk_softmax = ops.require("_moe_C::topk_softmax", ENV.device)
    from vllm.model_executor.layers.fused_moe import fused_experts

    tokens, topk = ids.shape
    got_w = poison(torch.empty((tokens, topk), dtype=torch.float32, device=ENV.device))
    got_ids = torch.full((tokens, topk), -1, dtype=torch.int32, device=ENV.device)
    token_idx = torch.empty((tokens, topk), dtype=torch.int32, device=ENV.device)
    topk_softmax(got_w, got_ids, token_idx, logits.to(ENV.device), False, None)
    sync(ENV.device)
    assert torch.equal(got_ids.cpu().sort(-1).values, ids.sort(-1).values), (
        f"{what}: topk_softmax picked other experts"
    )
    assert_close(got_w.sort(-1).values, weights.sort(-1).values, None, f"{what} topk_softmax weights")
    out = fused_experts(
        hidden_states=x, w1=w13, w2=w2, topk_weights=weights.to(ENV.device), topk_ids=ids.to(ENV.device)
    )
    sync(ENV.device)
    return out

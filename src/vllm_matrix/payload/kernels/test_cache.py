"""reshape_and_cache / reshape_and_cache_flash: every slot asked is written, no other.

The caches start as NaN; afterwards the slots in slot_mapping must hold the
keys and values bit for bit, and every other slot must still be NaN.
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
    "tokens": st.integers(1, 64),
    "kv_heads": st.sampled_from([1, 2, 8]),
    "head_size": st.sampled_from([64, 80, 128]),
    "block_size": st.sampled_from([16, 32]),
    "gen": st.integers(0, 2**31 - 1),
}
NUM_BLOCKS = 24


def _inputs(
    dtype: torch.dtype, tokens: int, kv_heads: int, head_size: int, block_size: int, gen: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    key = randn((tokens, kv_heads, head_size), dtype, ENV.device, gen)
    value = randn((tokens, kv_heads, head_size), dtype, ENV.device, gen + 1)
    slots = torch.randperm(NUM_BLOCKS * block_size, generator=torch.Generator().manual_seed(gen))[:tokens]
    return key, value, slots.to(device=ENV.device, dtype=torch.long)


def _check_slots(cache_by_slot: torch.Tensor, expected: torch.Tensor, slots: torch.Tensor, what: str) -> None:
    """cache_by_slot: [slots, kv_heads, head_size]; written slots equal, the rest still NaN."""
    assert_close(cache_by_slot[slots], expected, "cache", f"{what} written slots")
    untouched = torch.ones(cache_by_slot.shape[0], dtype=torch.bool, device=cache_by_slot.device)
    untouched[slots] = False
    stray = ~torch.isnan(cache_by_slot[untouched].float())
    assert not stray.any(), f"{what}: {int(stray.sum())} elements written outside slot_mapping"


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_reshape_and_cache_flash(
    dtype: torch.dtype, tokens: int, kv_heads: int, head_size: int, block_size: int, gen: int
) -> None:
    """Flash layout: cache [blocks, block_size, kv_heads, head_size]."""
    op = ops.require("_C_cache_ops::reshape_and_cache_flash", ENV.device)
    key, value, slots = _inputs(dtype, tokens, kv_heads, head_size, block_size, gen)
    shape = (NUM_BLOCKS, block_size, kv_heads, head_size)
    key_cache = poison(torch.empty(shape, dtype=dtype, device=ENV.device))
    value_cache = poison(torch.empty(shape, dtype=dtype, device=ENV.device))
    one = torch.ones((), dtype=torch.float32, device=ENV.device)
    op(key, value, key_cache, value_cache, slots, "auto", one, one)
    sync(ENV.device)
    _check_slots(key_cache.flatten(0, 1), key, slots, "reshape_and_cache_flash key")
    _check_slots(value_cache.flatten(0, 1), value, slots, "reshape_and_cache_flash value")


@pytest.mark.kernels
@DTYPES
@cases()
@given(**SHAPES)
def test_reshape_and_cache(
    dtype: torch.dtype, tokens: int, kv_heads: int, head_size: int, block_size: int, gen: int
) -> None:
    """Paged layout: key [blocks, kv_heads, head/x, block, x], value [blocks, kv_heads, head, block]."""
    op = ops.require("_C_cache_ops::reshape_and_cache", ENV.device)
    key, value, slots = _inputs(dtype, tokens, kv_heads, head_size, block_size, gen)
    x = 16 // key.element_size()
    key_cache = poison(
        torch.empty((NUM_BLOCKS, kv_heads, head_size // x, block_size, x), dtype=dtype, device=ENV.device)
    )
    value_cache = poison(
        torch.empty((NUM_BLOCKS, kv_heads, head_size, block_size), dtype=dtype, device=ENV.device)
    )
    one = torch.ones((), dtype=torch.float32, device=ENV.device)
    op(key, value, key_cache, value_cache, slots, "auto", one, one)
    sync(ENV.device)
    key_by_slot = key_cache.permute(0, 3, 1, 2, 4).reshape(NUM_BLOCKS * block_size, kv_heads, head_size)
    value_by_slot = value_cache.permute(0, 3, 1, 2).reshape(NUM_BLOCKS * block_size, kv_heads, head_size)
    _check_slots(key_by_slot, key, slots, "reshape_and_cache key")
    _check_slots(value_by_slot, value, slots, "reshape_and_cache value")

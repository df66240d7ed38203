"""Paged causal attention: flash_attn_varlen_func on CUDA, the CPU attention op on CPU builds.

Both are checked against one float32 reference (payload_common.attention_ref)
over batches of sequences that each have some cached context and some new
query tokens: prefill, chunked prefill and decode in one call.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from payload_common import ops
from payload_common.attention_ref import paged_attention_ref
from payload_common.checks import assert_close, poison
from payload_common.plugin import cases, current
from payload_common.tensors import dtype_id, kernel_dtypes, randn, sync

ENV = current()
DTYPES = pytest.mark.parametrize("dtype", kernel_dtypes(ENV.kernel_dtypes), ids=dtype_id)


@st.composite
def batches(draw: st.DrawFn, head_sizes: list[int]) -> dict[str, object]:
    """A batch: per sequence a query length and a context length, plus heads and block size."""
    seqs = draw(st.integers(1, 4))
    query_lens = [draw(st.sampled_from([1, 1, 3, 17, 40])) for _ in range(seqs)]
    kv_lens = [q + draw(st.integers(0, 150)) for q in query_lens]
    heads, kv_heads = draw(st.sampled_from([(2, 2), (4, 1), (8, 2)]))
    return {
        "query_lens": query_lens,
        "kv_lens": kv_lens,
        "heads": heads,
        "kv_heads": kv_heads,
        "head_size": draw(st.sampled_from(head_sizes)),
        "block_size": draw(st.sampled_from([16, 32])),
        "gen": draw(st.integers(0, 2**31 - 1)),
    }


def _block_tables(kv_lens: list[int], block_size: int, gen: int) -> tuple[torch.Tensor, int]:
    """Distinct random blocks per sequence; returns the table and the number of blocks."""
    need = [(n + block_size - 1) // block_size for n in kv_lens]
    total = sum(need) + 3
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(gen)).to(torch.int32)
    table = torch.zeros((len(kv_lens), max(need)), dtype=torch.int32)
    used = 0
    for i, n in enumerate(need):
        table[i, :n] = perm[used : used + n]
        used += n
    return table, total


def _tokens(b: dict, dtype: torch.dtype, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    total_q, total_kv = sum(b["query_lens"]), sum(b["kv_lens"])
    q = randn((total_q, b["heads"], b["head_size"]), dtype, device, b["gen"])
    k = randn((total_kv, b["kv_heads"], b["head_size"]), dtype, device, b["gen"] + 1)
    v = randn((total_kv, b["kv_heads"], b["head_size"]), dtype, device, b["gen"] + 2)
    return q, k, v


def _slots(b: dict, table: torch.Tensor) -> torch.Tensor:
    """Slot of every KV token, sequence after sequence."""
    bs, slots = b["block_size"], []
    for i, n in enumerate(b["kv_lens"]):
        pos = torch.arange(n)
        slots.append(table[i, pos // bs].long() * bs + pos % bs)
    return torch.cat(slots)


def _flash_caches(b: dict, k: torch.Tensor, v: torch.Tensor, slots: torch.Tensor, blocks: int) -> tuple:
    """[blocks, block_size, kv_heads, head] caches holding k/v at their slots, zeros elsewhere.

    Zeros as vLLM allocates them: kernels read whole blocks and mask past the
    sequence, and 0 * NaN would be NaN. The cache tests check stray writes.
    """
    shape = (blocks * b["block_size"], b["kv_heads"], b["head_size"])
    kc, vc = k.new_zeros(shape), v.new_zeros(shape)
    kc[slots.to(k.device)], vc[slots.to(k.device)] = k, v
    view = (blocks, b["block_size"], b["kv_heads"], b["head_size"])
    return kc.view(view), vc.view(view)


def _cuda_fa_version() -> int:
    """The FA version this cell runs: VLLM_MATRIX_FA_VERSION, else vLLM's own choice."""
    if ENV.fa_version is not None:
        return ENV.fa_version
    for module in ("vllm.v1.attention.backends.fa_utils", "vllm.attention.utils.fa_utils"):
        try:
            mod = __import__(module, fromlist=["get_flash_attn_version"])
            return int(mod.get_flash_attn_version() or 2)
        except ImportError:
            continue
    return 2


@pytest.mark.kernels
@DTYPES
@cases()
@given(b=batches([64, 128, 256]))
def test_flash_attn_varlen(dtype: torch.dtype, b: dict) -> None:
    """flash_attn_varlen_func with the cell's FA version, paged KV, causal; output starts as NaN."""
    version = _cuda_fa_version() if ENV.device == "cuda" else 2
    ops.require("_vllm_fa3_C::fwd" if version == 3 else "_vllm_fa2_C::varlen_fwd", ENV.device)
    if dtype == torch.float32:
        pytest.skip("flash-attention has no float32 kernels on any platform")
    from vllm.vllm_flash_attn import flash_attn_interface as fa

    if not fa.is_fa_version_supported(version):
        pytest.fail(f"Cannot use FA version {version}: {fa.fa_version_unsupported_reason(version)}")
    table, blocks = _block_tables(b["kv_lens"], b["block_size"], b["gen"])
    q, k, v = _tokens(b, dtype, ENV.device)
    kc, vc = _flash_caches(b, k, v, _slots(b, table), blocks)
    cu_q = torch.tensor([0, *torch.tensor(b["query_lens"]).cumsum(0).tolist()], dtype=torch.int32)
    scale = b["head_size"] ** -0.5
    out = poison(torch.empty_like(q))
    fa.flash_attn_varlen_func(
        q=q,
        k=kc,
        v=vc,
        max_seqlen_q=max(b["query_lens"]),
        cu_seqlens_q=cu_q.to(ENV.device),
        max_seqlen_k=max(b["kv_lens"]),
        seqused_k=torch.tensor(b["kv_lens"], dtype=torch.int32, device=ENV.device),
        softmax_scale=scale,
        causal=True,
        block_table=table.to(ENV.device),
        out=out,
        fa_version=version,
    )
    sync(ENV.device)
    expected = paged_attention_ref(q.cpu(), kc.cpu(), vc.cpu(), b["query_lens"], b["kv_lens"], table, scale)
    assert_close(out, expected, "attention", f"FA{version} varlen {b}")


def _cpu_isa(dtype: torch.dtype, block_size: int, head_size: int) -> str:
    """The ISA vLLM's CPU attention backend would pick for this shape."""
    from vllm.v1.attention.backends.cpu_attn import _get_attn_isa

    return str(_get_attn_isa(dtype, block_size, head_size))


@pytest.mark.kernels
@DTYPES
@cases()
@given(b=batches([64, 80, 128]))
def test_cpu_attention(dtype: torch.dtype, b: dict) -> None:
    """cpu_attn_reshape_and_cache writes K/V, cpu_attention_with_kv_cache attends; output starts as NaN."""
    write = ops.require("_C::cpu_attn_reshape_and_cache", ENV.device)
    attend = ops.require("_C::cpu_attention_with_kv_cache", ENV.device)
    metadata = ops.require("_C::get_scheduler_metadata", ENV.device)
    isa = _cpu_isa(dtype, b["block_size"], b["head_size"])
    table, blocks = _block_tables(b["kv_lens"], b["block_size"], b["gen"])
    q, k, v = _tokens(b, dtype, "cpu")
    # vLLM's layout: [blocks, kv_heads, block_size, 2 * head] viewed as K and V halves,
    # zeroed as vLLM allocates it (the kernel reads whole blocks).
    kv = torch.zeros((blocks, b["kv_heads"], b["block_size"], 2 * b["head_size"]), dtype=dtype)
    kc, vc = kv.view(blocks, b["kv_heads"], 2 * b["block_size"], b["head_size"]).chunk(2, dim=2)
    # Arguments with a schema default (k_scale, v_scale, kv_cache_dtype) are left to it: their
    # number changes between releases (0.26.0's get_scheduler_metadata has no kv_cache_dtype).
    write(k, v, kc, vc, _slots(b, table), isa)
    cu_q = torch.tensor([0, *torch.tensor(b["query_lens"]).cumsum(0).tolist()], dtype=torch.int32)
    seq_lens = torch.tensor(b["kv_lens"], dtype=torch.int32)
    sched = metadata(
        len(b["kv_lens"]), b["heads"], b["kv_heads"], b["head_size"], seq_lens, dtype, cu_q,
        True, -1, isa, False, None,
    )  # fmt: skip
    scale = b["head_size"] ** -0.5
    out = poison(torch.empty_like(q))
    attend(q, kc, vc, out, cu_q, seq_lens, scale, True, None, -1, table, 0.0, sched, None, None)
    kf, vf = _flash_caches(b, k, v, _slots(b, table), blocks)
    expected = paged_attention_ref(q, kf, vf, b["query_lens"], b["kv_lens"], table, scale)
    assert_close(out, expected, "attention", f"CPU attention isa={isa} {b}")

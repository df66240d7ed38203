"""A float32 reference for paged, causal, variable-length attention."""

from __future__ import annotations

import torch


def paged_attention_ref(
    query: torch.Tensor,
    key_cache: torch.Tensor,
    value_cache: torch.Tensor,
    query_lens: list[int],
    kv_lens: list[int],
    block_tables: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Causal attention per sequence, the mask aligned bottom-right (queries are the last tokens).

    ``key_cache`` / ``value_cache``: [num_blocks, block_size, kv_heads, head_dim];
    ``query``: [sum(query_lens), heads, head_dim]. Returns float32 [tokens, heads, head_dim].
    """
    block_size = key_cache.shape[1]
    heads, kv_heads = query.shape[1], key_cache.shape[2]
    outputs, start = [], 0
    for i, (q_len, kv_len) in enumerate(zip(query_lens, kv_lens, strict=True)):
        q = query[start : start + q_len].float()
        blocks = block_tables[i, : (kv_len + block_size - 1) // block_size].long()
        k = key_cache[blocks].flatten(0, 1)[:kv_len].float()
        v = value_cache[blocks].flatten(0, 1)[:kv_len].float()
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) * scale
        mask = torch.ones(q_len, kv_len, dtype=torch.bool).tril(diagonal=kv_len - q_len)
        scores.masked_fill_(~mask, float("-inf"))
        outputs.append(torch.einsum("hqk,khd->qhd", scores.softmax(dim=-1), v))
        start += q_len
    return torch.cat(outputs)

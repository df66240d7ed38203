"""Speed and memory figures of a running engine, as JUnit properties.

Timed from the caller's side with perf_counter: what a user of LLM.generate
sees, engine overheads included. Prompts are random token ids, so a figure
does not depend on a tokenizer.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import torch


def _prompts(count: int, length: int, vocab: int, seed: int) -> list[dict[str, list[int]]]:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (count, length), generator=gen)
    return [{"prompt_token_ids": row.tolist()} for row in ids]


def _timed(llm: Any, prompts: list[dict[str, list[int]]], max_tokens: int) -> tuple[float, int]:
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    began = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    return time.perf_counter() - began, sum(len(o.outputs[0].token_ids) for o in outputs)


def speed(llm: Any, vocab: int, prompt_len: int, batch: int, decode_tokens: int) -> dict[str, float]:
    """TTFT, prefill and decode throughput on a warmed-up engine."""
    _timed(llm, _prompts(1, 8, vocab, 1), 2)  # warm-up
    ttft, _ = _timed(llm, _prompts(1, prompt_len, vocab, 2), 1)
    batch_prompts = _prompts(batch, prompt_len, vocab, 3)
    prefill_s, _ = _timed(llm, batch_prompts, 1)
    total_s, generated = _timed(llm, batch_prompts, decode_tokens)
    decode_s = max(total_s - prefill_s, 1e-9)
    return {
        "ttft_s": round(ttft, 4),
        "prefill_tok_s": round(batch * prompt_len / prefill_s, 1),
        "decode_tok_s": round((generated - batch) / decode_s, 1),
        "decode_batch": batch,
    }


def memory(llm: Any, device: str) -> dict[str, float | str]:
    """Peak memory and the KV cache vLLM allocated."""
    figures: dict[str, float | str] = {}
    if device == "cuda":
        free, total = torch.cuda.mem_get_info()
        figures["device_memory_used_gib"] = round((total - free) / 2**30, 2)
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures["peak_rss_gib"] = round(rss_kib / 2**20, 2)
    figures["peak_child_rss_gib"] = round(child_kib / 2**20, 2)
    config = llm.llm_engine.vllm_config
    cache, model = config.cache_config, config.model_config
    blocks = cache.num_gpu_blocks
    if not blocks:
        figures["kv_cache"] = "unknown (num_gpu_blocks not reported)"
        return figures
    tokens = blocks * cache.block_size
    hf = model.hf_config
    head_dim = getattr(hf, "head_dim", None) or hf.hidden_size // hf.num_attention_heads
    kv_heads = getattr(hf, "num_key_value_heads", None) or hf.num_attention_heads
    per_token = (
        2 * hf.num_hidden_layers * kv_heads * head_dim * torch.empty((), dtype=model.dtype).element_size()
    )
    figures["kv_cache_tokens"] = tokens
    figures["kv_cache_gib"] = round(tokens * per_token / 2**30, 3)
    return figures

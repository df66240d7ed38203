"""Greedy generation with HF transformers and vLLM, and the rule for comparing them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

TOP_N = 5


@dataclass(frozen=True)
class Generation:
    """Greedy tokens per prompt, and each step's top-N token ids."""

    tokens: list[list[int]]
    top: list[list[set[int]]]


def prompt_ids(model: Path, prompts: tuple[str, ...]) -> list[list[int]]:
    """Token ids of the prompts; both engines get these ids, not text."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model))
    return [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]


def hf_greedy(model: Path, ids: list[list[int]], steps: int, dtype: str) -> Generation:
    """Greedy decoding with transformers on the CPU, full forward each step (no cache tricks)."""
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(str(model), dtype=getattr(torch, dtype))
    hf.eval()  # type: ignore[no-untyped-call]
    tokens, tops = [], []
    with torch.no_grad():
        for prompt in ids:
            seq, out, top = list(prompt), [], []
            for _ in range(steps):
                logits = hf(torch.tensor([seq])).logits[0, -1].float()
                out.append(int(logits.argmax()))
                top.append(set(logits.topk(TOP_N).indices.tolist()))
                seq.append(out[-1])
            tokens.append(out)
            tops.append(top)
    return Generation(tokens, tops)


def vllm_greedy(llm: Any, ids: list[list[int]], steps: int) -> Generation:
    """Greedy decoding with vLLM, asking for the top-N logprobs of each step."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=steps, ignore_eos=True, logprobs=TOP_N)
    outputs = llm.generate([{"prompt_token_ids": p} for p in ids], params, use_tqdm=False)
    tokens = [list(o.outputs[0].token_ids) for o in outputs]
    tops = [[set(step) for step in (o.outputs[0].logprobs or [])] for o in outputs]
    return Generation(tokens, tops)


def mismatches(a: Generation, b: Generation, exact: bool) -> list[str]:
    """Why ``a`` and ``b`` disagree; empty when they agree.

    exact: every token equal. Otherwise vLLM's rule for reduced precision: at
    the first differing step each side's token must be in the other's top-N;
    after that the sequences have diverged and are not compared.
    """
    problems = []
    for i, (ta, tb) in enumerate(zip(a.tokens, b.tokens, strict=True)):
        if ta == tb:
            continue
        step = next(s for s, (x, y) in enumerate(zip(ta, tb, strict=True)) if x != y)
        if exact:
            problems.append(f"prompt {i}: step {step}: {ta[step]} != {tb[step]} ({ta} vs {tb})")
        elif ta[step] not in b.top[i][step] or tb[step] not in a.top[i][step]:
            problems.append(
                f"prompt {i}: step {step}: {ta[step]} vs {tb[step]} not in each other's top-{TOP_N}"
            )
    return problems

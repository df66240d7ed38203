"""Generation: vLLM's greedy tokens against HF transformers' on a tiny random Llama."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from payload_common import engine
from payload_common.engine_run import EngineRun
from payload_common.greedy import hf_greedy, mismatches, prompt_ids, vllm_greedy
from payload_common.plugin import current
from payload_common.tiny_model import PROMPTS

ENV = current()
STEPS = 16
GROUP = pytest.mark.xdist_group("engine")


@pytest.mark.generation
@GROUP
def test_greedy_matches_hf(
    engine_run: EngineRun, tiny_model: Path, record_property: Callable[[str, object], None]
) -> None:
    """3 prompts x 16 greedy tokens equal HF's.

    Exact in float32. In bf16/fp16 two correct implementations round
    differently and may pick another token where two logits are close, so
    there (and only there) vLLM's top-N logprob rule applies.
    """
    record_property("engine_mode", "multiprocess" if engine.multiprocess(ENV) else "in-process")
    record_property("fa_version_mechanism", engine_run.mechanism)
    llm = engine_run.require()
    ids = prompt_ids(tiny_model, PROMPTS)
    try:
        got = vllm_greedy(llm, ids, STEPS)
    except Exception as exc:
        engine_run.fail(exc)
    want = hf_greedy(tiny_model, ids, STEPS, ENV.dtype)
    exact = ENV.dtype == "float32"
    record_property("comparison", "exact" if exact else "top-5 logprobs at first mismatch")
    record_property("tokens_equal_exactly", str(got.tokens == want.tokens))
    problems = mismatches(got, want, exact)
    assert not problems, "vLLM vs HF greedy tokens differ:\n" + "\n".join(problems)

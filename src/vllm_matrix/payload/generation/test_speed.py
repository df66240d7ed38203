"""The figures the seed document talks about, recorded as JUnit properties (never asserted).

tokens/s for prefill and decode, time to first token, cold against warm
engine start, peak memory and KV-cache size: on the tiny model always, and on
a real model when VLLM_MATRIX_MODEL_DIR points at one (the seed's Qwen2.5-7B:
about 290 tok/s and 31 GB of KV cache on an RTX 5090).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from payload_common import engine, figures
from payload_common.engine_run import EngineRun, cold_then_warm
from payload_common.plugin import current

ENV = current()
GROUP = pytest.mark.xdist_group("engine")


def _record(record_property: Callable[[str, object], None], values: dict[str, object]) -> None:
    for key, value in values.items():
        record_property(key, value)


@pytest.mark.generation
@GROUP
def test_tiny_model_figures(engine_run: EngineRun, record_property: Callable[[str, object], None]) -> None:
    """Speed and memory of the cell's engine on the tiny model."""
    llm = engine_run.require()
    cold, warm = engine_run.starts
    _record(record_property, {"engine_start_cold_s": round(cold, 2), "engine_start_warm_s": round(warm, 2)})
    try:
        _record(record_property, figures.speed(llm, vocab=512, prompt_len=64, batch=8, decode_tokens=32))
    except Exception as exc:
        engine_run.fail(exc)
    _record(record_property, figures.memory(llm, ENV.device))


@pytest.mark.generation
@pytest.mark.real_model
@GROUP
def test_real_model_figures(record_property: Callable[[str, object], None]) -> None:
    """The same figures on VLLM_MATRIX_MODEL_DIR, with vLLM's default memory share."""
    if ENV.model_dir is None:
        pytest.skip("VLLM_MATRIX_MODEL_DIR is not set: no real model to measure")
    run = cold_then_warm(ENV, ENV.model_dir)
    llm = run.require()
    try:
        cold, warm = run.starts
        _record(
            record_property, {"engine_start_cold_s": round(cold, 2), "engine_start_warm_s": round(warm, 2)}
        )
        vocab = llm.llm_engine.vllm_config.model_config.get_vocab_size()
        _record(record_property, figures.speed(llm, vocab=vocab, prompt_len=512, batch=16, decode_tokens=128))
        _record(record_property, figures.memory(llm, ENV.device))
    except Exception as exc:
        run.fail(exc)
    finally:
        engine.shutdown(llm)

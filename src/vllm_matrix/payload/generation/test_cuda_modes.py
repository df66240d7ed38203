"""CUDA-only checks: CUDA graphs against eager, torch.compile on against off, FA version in use.

Graphs and compile change kernels' order and fusion, not the maths, so the
engines are compared by the top-N logprob rule, not exact tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from payload_common import engine
from payload_common.engine_run import EngineRun, start
from payload_common.greedy import Generation, mismatches, prompt_ids, vllm_greedy
from payload_common.plugin import current
from payload_common.tiny_model import PROMPTS

ENV = current()
CUDA = pytest.mark.skipif(
    ENV.device != "cuda", reason=f"CUDA graphs, torch.compile and FA are CUDA-only; device is {ENV.device}"
)
GROUP = pytest.mark.xdist_group("engine")
STEPS = 16


def _expected_fa_version() -> int:
    if ENV.fa_version is not None:
        return ENV.fa_version
    import torch

    return 3 if torch.cuda.get_device_capability()[0] == 9 else 2


@pytest.mark.generation
@pytest.mark.cuda_only
@CUDA
@GROUP
def test_fa_version_in_use(engine_run: EngineRun, record_property: Callable[[str, object], None]) -> None:
    """The attention layers really run the cell's FA version (asked of the workers, not assumed)."""
    llm = engine_run.require()
    record_property("fa_version_mechanism", engine_run.mechanism)

    def probe(model: Any) -> list[tuple[str, int | None]]:
        """Runs inside the workers (nested, so cloudpickle ships it by value)."""
        found = set()
        for module in model.modules():
            impl = getattr(module, "impl", None)
            if impl is not None:
                found.add((type(impl).__name__, getattr(impl, "vllm_flash_attn_version", None)))
        return sorted(found, key=str)

    try:
        per_worker = llm.apply_model(probe)
    except Exception as exc:
        engine_run.fail(exc)
    found = {item for worker in per_worker for item in worker}
    record_property("attention_impls", repr(sorted(found, key=str)))
    versions = {v for _, v in found if v is not None}
    record_property("fa_version_in_use", ",".join(map(str, sorted(versions))) or "none")
    expected = _expected_fa_version()
    assert versions == {expected}, (
        f"FA version in use {sorted(versions)} (impls {found}), expected {expected}"
    )


def _greedy_with(engine_run: EngineRun, tiny_model: Path, **overrides: Any) -> tuple[Generation, float]:
    """Greedy tokens of a second engine built with ``overrides`` (stopped afterwards)."""
    ids = prompt_ids(tiny_model, PROMPTS)
    try:
        llm, _, seconds = start(ENV, tiny_model, engine_run.log, **overrides)
    except Exception as exc:
        engine_run.fail(exc)
    try:
        return vllm_greedy(llm, ids, STEPS), seconds
    finally:
        engine.shutdown(llm)


@pytest.fixture(scope="module")
def eager_tokens(engine_run: EngineRun, tiny_model: Path) -> tuple[Generation, float]:
    """One enforce_eager engine's tokens, shared by the graphs and the compile comparison."""
    return _greedy_with(engine_run, tiny_model, enforce_eager=True)


@pytest.mark.generation
@pytest.mark.cuda_only
@CUDA
@GROUP
def test_cuda_graphs_against_eager(
    engine_run: EngineRun,
    tiny_model: Path,
    eager_tokens: tuple[Generation, float],
    record_property: Callable[[str, object], None],
) -> None:
    """The default engine (CUDA graphs + compile) against enforce_eager=True."""
    if ENV.enforce_eager:
        graphs, seconds = _greedy_with(engine_run, tiny_model, enforce_eager=False)
        record_property("graphs_engine_start_s", round(seconds, 2))
    else:
        graphs = vllm_greedy(engine_run.require(), prompt_ids(tiny_model, PROMPTS), STEPS)
    eager, seconds = eager_tokens
    record_property("eager_engine_start_s", round(seconds, 2))
    problems = mismatches(graphs, eager, exact=False)
    assert not problems, "graphs vs eager differ:\n" + "\n".join(problems)


@pytest.mark.generation
@pytest.mark.cuda_only
@CUDA
@GROUP
def test_torch_compile_on_against_off(
    engine_run: EngineRun,
    tiny_model: Path,
    eager_tokens: tuple[Generation, float],
    record_property: Callable[[str, object], None],
) -> None:
    """torch.compile without CUDA graphs against the eager engine (neither has graphs)."""
    compiled, seconds = _greedy_with(
        engine_run, tiny_model, enforce_eager=False, compilation_config={"cudagraph_mode": "NONE"}
    )
    record_property("compile_engine_start_s", round(seconds, 2))
    problems = mismatches(compiled, eager_tokens[0], exact=False)
    assert not problems, "compile vs eager differ:\n" + "\n".join(problems)

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
from payload_common.greedy import mismatches, prompt_ids, vllm_greedy
from payload_common.plugin import current
from payload_common.tiny_model import PROMPTS

ENV = current()
CUDA = pytest.mark.skipif(ENV.device != "cuda", reason=f"CUDA graphs, torch.compile and FA are CUDA-only; device is {ENV.device}")
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
    assert versions == {expected}, f"FA version in use {sorted(versions)} (impls {found}), expected {expected}"


def _compare_engine(
    engine_run: EngineRun, tiny_model: Path, label: str, **overrides: Any
) -> tuple[list[str], float]:
    """Greedy tokens of the shared engine against a second engine built with ``overrides``."""
    ids = prompt_ids(tiny_model, PROMPTS)
    base = vllm_greedy(engine_run.require(), ids, STEPS)
    try:
        other, _, seconds = start(ENV, tiny_model, engine_run.log, **overrides)
    except Exception as exc:
        engine_run.fail(exc)
    try:
        got = vllm_greedy(other, ids, STEPS)
    finally:
        engine.shutdown(other)
    return mismatches(base, got, exact=False), seconds


@pytest.mark.generation
@pytest.mark.cuda_only
@CUDA
@GROUP
def test_cuda_graphs_against_eager(
    engine_run: EngineRun, tiny_model: Path, record_property: Callable[[str, object], None]
) -> None:
    """The cell's engine against enforce_eager=True (no graphs, no compile)."""
    flip = not ENV.enforce_eager
    problems, seconds = _compare_engine(engine_run, tiny_model, "eager", enforce_eager=flip)
    record_property("other_engine", f"enforce_eager={flip}")
    record_property("other_engine_start_s", round(seconds, 2))
    assert not problems, "graphs vs eager differ:\n" + "\n".join(problems)


@pytest.mark.generation
@pytest.mark.cuda_only
@CUDA
@GROUP
def test_torch_compile_on_against_off(
    engine_run: EngineRun, tiny_model: Path, record_property: Callable[[str, object], None]
) -> None:
    """torch.compile without CUDA graphs against the eager engine (both without graphs)."""
    ids = prompt_ids(tiny_model, PROMPTS)
    results = {}
    for label, overrides in (
        ("compile", {"enforce_eager": False, "compilation_config": {"cudagraph_mode": "NONE"}}),
        ("eager", {"enforce_eager": True}),
    ):
        try:
            llm, _, seconds = start(ENV, tiny_model, engine_run.log, **overrides)
        except Exception as exc:
            engine_run.fail(exc)
        try:
            results[label] = vllm_greedy(llm, ids, STEPS)
        finally:
            engine.shutdown(llm)
        record_property(f"{label}_engine_start_s", round(seconds, 2))
    problems = mismatches(results["compile"], results["eager"], exact=False)
    assert not problems, "compile vs eager differ:\n" + "\n".join(problems)

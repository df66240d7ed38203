"""Generation suite fixtures: the tiny model and the shared engine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from payload_common import engine
from payload_common.engine_run import EngineRun, cold_then_warm
from payload_common.plugin import _record_cell, current, payload_env, pytest_configure, pytest_report_header
from payload_common.tiny_model import build_model

__all__ = ["_record_cell", "payload_env", "pytest_configure", "pytest_report_header"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama and tokenizer, written at test time (no hub)."""
    return build_model(tmp_path_factory.mktemp("tiny-llama"), seed=current().seed)


@pytest.fixture(scope="session")
def engine_run(tiny_model: Path) -> Iterator[EngineRun]:
    """The cell's engine on the tiny model, started cold then warm."""
    run = cold_then_warm(current(), tiny_model)
    yield run
    if run.llm is not None:
        engine.shutdown(run.llm)
    sys.stderr.write(run.log.read_text(errors="replace")[-20000:])

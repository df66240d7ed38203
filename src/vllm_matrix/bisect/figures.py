"""The speed and memory figures a cell's suites recorded: JUnit properties of its payload test cases.

The payload's ``generation/test_speed.py`` records them (``payload_common/figures.py`` names
them) as properties of its test cases in the cell's ``pytest-junit.xml``. A result the
result cache repeated has no JUnit of its own: its figures are those of the cell that
decided it (``cached_from``), in that run's directory beside this one.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from pathlib import Path

from vllm_matrix.results import CellResult, RunStore
from vllm_matrix.stages.suites import PYTEST_JUNIT

# The figures the payload records (payload_common/figures.py and generation/test_speed.py).
FIGURES = (
    "ttft_s",
    "prefill_tok_s",
    "decode_tok_s",
    "decode_batch",
    "engine_start_cold_s",
    "engine_start_warm_s",
    "device_memory_used_gib",
    "peak_rss_gib",
    "peak_child_rss_gib",
    "kv_cache_tokens",
    "kv_cache_gib",
)
# A real model's figures (VLLM_MATRIX_MODEL_DIR) win over the tiny model's.
PREFERRED_CASE = "test_real_model_figures"


def junit_of(result: CellResult, store: RunStore) -> Path:
    """The pytest JUnit holding ``result``'s figures: its own, or that of the cell it repeats."""
    if result.cached_from is not None:
        deciding = RunStore(store.root.parent / result.cached_from.run)
        return deciding.cell_dir(result.cached_from.cell) / PYTEST_JUNIT
    return store.cell_dir(result.id) / PYTEST_JUNIT


def read(path: Path) -> dict[str, float]:
    """Every numeric test-case property in a JUnit file (empty when it is absent or unreadable)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    found: dict[str, float] = {}
    cases = sorted(root.iter("testcase"), key=lambda case: case.get("name") == PREFERRED_CASE)
    for case in cases:
        for prop in case.iter("property"):
            with contextlib.suppress(TypeError, ValueError):
                found[str(prop.get("name"))] = float(str(prop.get("value")))
    return found


def of(result: CellResult, store: RunStore) -> dict[str, float]:
    """The figures ``result``'s suites recorded."""
    return read(junit_of(result, store))

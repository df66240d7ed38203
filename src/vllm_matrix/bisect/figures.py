"""The speed and memory figures a cell's suites recorded, which a ``--bad-on`` threshold compares.

The payload's ``generation/test_speed.py`` records them as JUnit properties of its test
cases (``payload_common/figures.py`` names them); the suites stage keeps them in the result's
facts (``facts.suites.figures``), so a result the result cache repeats still has them.
"""

from __future__ import annotations

from vllm_matrix.results import CellResult

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


def of(result: CellResult) -> dict[str, float]:
    """The figures ``result``'s suites recorded (none when the suites did not run)."""
    suites = result.facts.suites
    return dict(suites.figures) if suites else {}

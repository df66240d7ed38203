"""What the report needs from a cell's JUnit: failing tests, the suites' figures, and the suites' XML.

A cell's ``junit.xml`` (``vllm_matrix.junit``) holds the stage suite and the
payload's pytest suites, every suite carrying the cell's parameters as
properties. Each file is parsed once and summarised here; the parsed tree is
dropped, only each suite's serialised XML is kept for the merged JUnit, so
1,000 cells of 200 tests each stay small in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Properties, Skipped, TestCase, TestSuite

from vllm_matrix.junit import STAGE_CLASSNAME
from vllm_matrix.results import StageRecord

# The suites' figures (payload_common/figures.py and generation/test_speed.py), in display order.
FIGURES = (
    ("decode_tok_s", "decode tokens/s"),
    ("prefill_tok_s", "prefill tokens/s"),
    ("ttft_s", "time to first token (s)"),
    ("engine_start_cold_s", "engine start, cold (s)"),
    ("engine_start_warm_s", "engine start, warm (s)"),
    ("peak_rss_gib", "peak RSS (GiB)"),
    ("peak_child_rss_gib", "peak RSS of workers (GiB)"),
    ("device_memory_used_gib", "GPU memory used (GiB)"),
    ("kv_cache_tokens", "KV cache (tokens)"),
    ("kv_cache_gib", "KV cache (GiB)"),
    ("kv_cache", "KV cache"),
    ("decode_batch", "decode batch"),
)
FIGURE_NAMES = frozenset(name for name, _ in FIGURES)
# A real model's figures (VLLM_MATRIX_MODEL_DIR) win over the tiny random model's.
FIGURE_TESTS = ("test_tiny_model_figures", "test_real_model_figures")
MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class FailingTest:
    """One failed or errored test case of the payload suites."""

    name: str
    classname: str
    kind: str  # "failure" or "error"
    message: str
    text: str


@dataclass(frozen=True)
class StageCase:
    """A failing stage case of the stage suite: its stage, class and the text the runner wrote."""

    stage: str
    klass: str | None
    message: str
    text: str


@dataclass
class JUnitSummary:
    """One cell's JUnit, read once: properties, failing tests, figures and each suite's XML."""

    properties: dict[str, str] = field(default_factory=dict)
    failing: list[FailingTest] = field(default_factory=list)
    stage_failure: StageCase | None = None
    skip_message: str | None = None
    stages: list[StageRecord] = field(default_factory=list)  # the stage suite's cases, for JUnit-only input
    figures: dict[str, str] = field(default_factory=dict)
    figures_from: str | None = None  # the test whose figures these are
    hostname: str | None = None
    tests: int = 0
    xml: list[bytes] = field(default_factory=list)


def read_suites(path: Path) -> list[TestSuite]:
    """The suites of a JUnit file; ValueError with a one-line reason when it is corrupt or truncated."""
    try:
        xml = JUnitXml.fromfile(str(path))
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    except (JUnitXmlError, SyntaxError, ValueError) as exc:
        raise ValueError(f"is not valid JUnit XML, truncated or corrupt ({_first_line(exc)})") from None
    return [xml] if isinstance(xml, TestSuite) else list(xml)


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def suite_properties(suite: TestSuite) -> dict[str, str]:
    """A suite's properties as a dict (the last of a repeated name wins)."""
    return {p.name: p.value for p in suite.properties()}  # type: ignore[no-untyped-call]


def by_cell(suites: Iterable[TestSuite]) -> dict[str, list[TestSuite]]:
    """Suites grouped by their ``cell_id`` property (else the suite name before the first dot)."""
    groups: dict[str, list[TestSuite]] = {}
    for suite in suites:
        cell = suite_properties(suite).get("cell_id") or str(suite.name or "").split(".")[0] or "unknown"
        groups.setdefault(cell, []).append(suite)
    return groups


def summarise(suites: Iterable[TestSuite]) -> JUnitSummary:
    """Everything the report takes from one cell's suites."""
    summary = JUnitSummary()
    for suite in suites:
        props = suite_properties(suite)
        if not summary.properties or props.get("cell_id") == str(suite.name):  # the stage suite's win
            summary.properties = props
        summary.hostname = summary.hostname or suite.hostname
        for case in suite:
            summary.tests += 1
            _take_case(summary, case)
        summary.xml.append(suite.tostring())  # type: ignore[no-untyped-call]
    return summary


def _take_case(summary: JUnitSummary, case: TestCase) -> None:
    bad = [r for r in case.result if isinstance(r, Failure | Error)]
    if case.classname == STAGE_CLASSNAME:
        _take_stage(summary, case, bad)
        return
    if bad:
        kind = "failure" if isinstance(bad[0], Failure) else "error"
        summary.failing.append(FailingTest(str(case.name), str(case.classname or ""), kind,
                                           _cut(bad[0].message or ""), _cut(bad[0].text or "")))  # fmt: skip
    if case.name in FIGURE_TESTS:
        _take_figures(summary, case)


def _take_stage(summary: JUnitSummary, case: TestCase, bad: list[Failure | Error]) -> None:
    skipped = [r for r in case.result if isinstance(r, Skipped)]
    if skipped:
        summary.skip_message = skipped[0].message
    if bad and summary.stage_failure is None:
        summary.stage_failure = StageCase(
            str(case.name), bad[0].type, bad[0].message or "", bad[0].text or ""
        )
    if case.name == "cell":
        return
    status = "fail" if any(isinstance(r, Failure) for r in bad) else "error" if bad else "pass"
    status = "interrupted" if bad and bad[0].type == "interrupted" else status
    status = "skip" if skipped else status
    if status == "pass" and "built by" in (case.system_out or ""):
        status = "reused"
    summary.stages.append(StageRecord(str(case.name), status, float(case.time or 0.0)))


def _take_figures(summary: JUnitSummary, case: TestCase) -> None:
    figures = {name: value for name, value in _case_properties(case) if name in FIGURE_NAMES}
    real = case.name == FIGURE_TESTS[1]
    if figures and (real or summary.figures_from != FIGURE_TESTS[1]):
        summary.figures = figures
        summary.figures_from = str(case.name)


def _case_properties(case: TestCase) -> Iterator[tuple[str, str]]:
    props = case.child(Properties)  # type: ignore[no-untyped-call]
    for prop in props or ():
        yield str(prop.name), str(prop.value)


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"

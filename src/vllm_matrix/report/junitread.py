"""What the report needs from a cell's JUnit: failing tests, the suites' figures, and the suites' XML.

A cell's ``junit.xml`` (``vllm_matrix.junit``) holds the stage suite and the
payload's pytest suites, every suite carrying the cell's parameters as
properties. Each file is parsed once and summarised here; the parsed tree is
dropped (the merged JUnit copies the file's suites as written), so 1,000 cells
of 200 tests each stay small in memory.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
    xml: list[bytes] = field(default_factory=list)  # each suite serialised, when ``source`` cannot be copied
    source: Path | None = None  # the file that holds exactly this cell's suites, copied as it is


_SUITE = re.compile(rb"<testsuite[\s>/]")
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([^\"']+)")


def read_suites(path: Path) -> list[ET.Element]:
    """The <testsuite> elements of a JUnit file; ValueError with a one-line reason when it is corrupt.

    Read with ElementTree directly (the format junitparser writes and reads):
    summarising 1,000 cells x 200 cases through wrapper objects costs seconds.
    """
    try:
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    except (ET.ParseError, ValueError) as exc:
        raise ValueError(f"is not valid JUnit XML, truncated or corrupt ({_first_line(exc)})") from None
    if root.tag == "testsuite":
        return [root]
    if root.tag != "testsuites":
        raise ValueError(f"is not JUnit XML (its root is <{root.tag}>)")
    return root.findall("testsuite")


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def suite_properties(suite: ET.Element) -> dict[str, str]:
    """A suite's properties as a dict (the last of a repeated name wins)."""
    return _properties(suite)


def _properties(element: ET.Element) -> dict[str, str]:
    found = element.find("properties")
    if found is None:
        return {}
    return {str(p.get("name")): str(p.get("value", "")) for p in found.findall("property")}


def by_cell(suites: Iterable[ET.Element]) -> dict[str, list[ET.Element]]:
    """Suites grouped by their ``cell_id`` property (else the suite name before the first dot)."""
    groups: dict[str, list[ET.Element]] = {}
    for suite in suites:
        cell = suite_properties(suite).get("cell_id") or suite.get("name", "").split(".")[0] or "unknown"
        groups.setdefault(cell, []).append(suite)
    return groups


def summarise(suites: Iterable[ET.Element], source: Path | None = None) -> JUnitSummary:
    """Everything the report takes from one cell's suites.

    ``source``: the file the suites came from when it holds this cell alone; the
    merged JUnit then copies its suites as written instead of serialising them again.
    """
    summary = JUnitSummary(source=source if source is not None and _copyable(source) else None)
    for suite in suites:
        props = suite_properties(suite)
        if not summary.properties or props.get("cell_id") == suite.get("name"):  # the stage suite's win
            summary.properties = props
        summary.hostname = summary.hostname or suite.get("hostname")
        for case in suite.iter("testcase"):
            summary.tests += 1
            _take_case(summary, case)
        if summary.source is None:
            summary.xml.append(ET.tostring(suite, encoding="utf-8"))
    return summary


def _copyable(path: Path) -> bool:
    """Whether the file's bytes can go into a UTF-8 document as they are."""
    with path.open("rb") as fh:
        declared = _DECLARED.match(fh.read(200))
    return declared is None or declared[1].lower() in (b"utf-8", b"utf8", b"us-ascii")


def suite_bytes(path: Path) -> bytes:
    """The <testsuite> elements of a JUnit file as written: without the declaration and <testsuites> root."""
    data = path.read_bytes()
    found = _SUITE.search(data)
    if found is None:
        return b""
    end = data.rfind(b"</testsuites>")
    return data[found.start() : end if end > found.start() else len(data)].strip()


def _take_case(summary: JUnitSummary, case: ET.Element) -> None:
    bad = [r for r in case if r.tag in ("failure", "error")]
    name, classname = case.get("name", ""), case.get("classname", "")
    if classname == STAGE_CLASSNAME:
        _take_stage(summary, case, bad)
        return
    if bad:
        summary.failing.append(FailingTest(name, classname, bad[0].tag, _cut(bad[0].get("message", "")),
                                           _cut(bad[0].text or "")))  # fmt: skip
    if name in FIGURE_TESTS:
        _take_figures(summary, name, _properties(case))


def _take_stage(summary: JUnitSummary, case: ET.Element, bad: list[ET.Element]) -> None:
    name = case.get("name", "")
    skipped = case.find("skipped")
    if skipped is not None:
        summary.skip_message = skipped.get("message")
    if bad and summary.stage_failure is None:
        first = bad[0]
        summary.stage_failure = StageCase(name, first.get("type"), first.get("message", ""), first.text or "")
    if name == "cell":
        return
    summary.stages.append(StageRecord(name, _stage_status(case, bad, skipped), float(case.get("time") or 0)))


def _stage_status(case: ET.Element, bad: list[ET.Element], skipped: ET.Element | None) -> str:
    """A stage case's status as junit.py wrote it: failure, error (or interrupted), skipped, reused."""
    if skipped is not None:
        return "skip"
    if bad:
        kind = bad[0].get("type")
        return "fail" if bad[0].tag == "failure" else "interrupted" if kind == "interrupted" else "error"
    out = case.find("system-out")
    return "reused" if out is not None and "built by" in (out.text or "") else "pass"


def _take_figures(summary: JUnitSummary, name: str, properties: dict[str, str]) -> None:
    figures = {key: value for key, value in properties.items() if key in FIGURE_NAMES}
    real = name == FIGURE_TESTS[1]
    if figures and (real or summary.figures_from != FIGURE_TESTS[1]):
        summary.figures = figures
        summary.figures_from = name


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"

"""JUnit XML for one cell: a case per stage, plus the payload suites' own pytest JUnit.

A cell's ``junit.xml`` holds a suite named after the cell id with one case per
stage that ran (so a failed build is a failing ``build`` case with the decisive
line and the log tail), followed by the suites pytest wrote, if any. Every
suite carries the cell's parameters as properties. They are added here, after
pytest exits, because pytest-xdist workers cannot add suite properties.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestCase, TestSuite

from vllm_matrix.results import CellResult, StageRecord

STAGE_CLASSNAME = "vllm_matrix.stages"
LOG_TAIL_LINES = 60
# Cell fields that become suite properties, in this order.
PROPERTY_FIELDS = ("python", "torch", "cuda", "arch", "flash_attn", "vllm", "gpu", "dtype", "enforce_eager")
# Resolved facts that become suite properties when the cell got that far.
FACT_PROPERTIES = (
    "torch_version",
    "torch_git_version",
    "vllm_version",
    "vllm_commit",
    "build_key",
    "fa_mechanism",
)


def cell_properties(result: CellResult) -> dict[str, str]:
    """The cell's parameters and what they resolved to, as strings."""
    props = {"cell_id": result.id, "run": result.run, "outcome": result.outcome}
    props |= {k: _text(result.cell.get(k)) for k in PROPERTY_FIELDS if k in result.cell}
    props["experimental"] = _text(result.experimental)
    for key in FACT_PROPERTIES:
        if result.facts.get(key) is not None:
            props[key] = _text(result.facts[key])
    return props


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def stage_suite(result: CellResult, cell_dir: Path) -> TestSuite:
    """A suite named after the cell: one case per stage, or one ``cell`` case for a skip."""
    suite = TestSuite(result.id)
    _add_properties(suite, cell_properties(result))
    if not result.stages:
        suite.add_testcase(_cell_case(result))
    for record in result.stages:
        suite.add_testcase(_stage_case(result, record, cell_dir))
    suite.update_statistics()  # type: ignore[no-untyped-call]
    return suite


def _cell_case(result: CellResult) -> TestCase:
    case = TestCase("cell", classname=STAGE_CLASSNAME, time=result.duration_s)
    if result.outcome == "skip":
        case.result = [Skipped(result.message or "skipped")]
    elif result.outcome != "pass":
        case.result = [Error(result.message or result.outcome, type_=result.klass or result.outcome)]
    return case


def _stage_case(result: CellResult, record: StageRecord, cell_dir: Path) -> TestCase:
    case = TestCase(record.name, classname=STAGE_CLASSNAME, time=round(record.duration_s, 3))
    message = record.message or record.status
    if record.status == "fail":
        failure = Failure(_headline(result, message), type_=result.klass or "UNCLASSIFIED")
        failure.text = _details(result, record, cell_dir)
        case.result = [failure]
    elif record.status in ("error", "interrupted"):
        error = Error(message, type_=record.status)
        error.text = _details(result, record, cell_dir)
        case.result = [error]
    elif record.status == "skip":
        case.result = [Skipped(message)]
    elif record.status == "reused":
        case.system_out = message
    return case


def _headline(result: CellResult, message: str) -> str:
    return f"{result.klass}: {message}" if result.klass else message


def _details(result: CellResult, record: StageRecord, cell_dir: Path) -> str:
    lines = [f"evidence: {line}" for line in result.evidence]
    if result.hint:
        lines.append(f"hint: {result.hint}")
    if record.log:
        lines += [f"log: {record.log}", *log_tail(cell_dir / record.log)]
    return "\n".join(lines)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log (empty when it does not exist)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-lines:]
    except OSError:
        return []


def _add_properties(suite: TestSuite, props: Mapping[str, str]) -> None:
    have = {p.name for p in suite.properties()}  # type: ignore[no-untyped-call]
    for name, value in props.items():
        if name not in have:
            suite.add_property(name, value)


def read_suites(path: Path) -> list[TestSuite]:
    """The suites of a JUnit file, whether its root is <testsuites> or a single <testsuite>."""
    xml = JUnitXml.fromfile(str(path))
    if isinstance(xml, TestSuite):
        return [xml]
    return list(xml)


def add_properties(path: Path, props: Mapping[str, str]) -> None:
    """Add ``props`` to every suite of a JUnit file in place (atomically); existing names are kept."""
    suites = read_suites(path)
    for suite in suites:
        _add_properties(suite, props)
    _write(path, suites)


def write_cell_junit(result: CellResult, cell_dir: Path, extra: Iterable[Path] = ()) -> Path:
    """Write ``<cell_dir>/junit.xml``: the stage suite, then the suites of each readable ``extra`` file."""
    suites = [stage_suite(result, cell_dir)]
    props = cell_properties(result)
    for path in extra:
        with contextlib.suppress(OSError, JUnitXmlError, SyntaxError, ValueError):
            for suite in read_suites(path):
                _add_properties(suite, props)
                suites.append(suite)
    target = cell_dir / "junit.xml"
    _write(target, suites)
    return target


def _write(path: Path, suites: Iterable[TestSuite]) -> None:
    xml = JUnitXml()
    for suite in suites:
        xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        xml.write(tmp, pretty=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

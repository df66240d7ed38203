"""JUnit XML for one cell: a case per stage, plus the payload suites' own pytest JUnit.

A cell's ``junit.xml`` holds a suite named after the cell id with one case per
stage that ran (so a failed build is a failing ``build`` case with the decisive
line and the log tail), followed by the suites pytest wrote, if any. Every
suite carries the cell's parameters and final outcome as properties. They are
set here, once the cell has ended, because pytest-xdist workers cannot add
suite properties; a property of the same name that a suite already has is
replaced, so no suite can say anything but the cell's final outcome.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestCase, TestSuite

from vllm_matrix.fileio import write_atomic
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
        value = getattr(result.facts, key)
        if value is not None:
            props[key] = _text(value)
    return props


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def stage_suite(result: CellResult, cell_dir: Path) -> TestSuite:
    """A suite named after the cell: one case per stage, or one ``cell`` case for a skip."""
    suite = TestSuite(result.id)
    set_properties(suite, cell_properties(result))
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
    elif result.outcome == "n/a":
        case.result = [Skipped(f"n/a: {result.message}")]
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
    elif record.status in ("reused", "cached"):
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


def set_properties(suite: TestSuite, props: Mapping[str, str]) -> None:
    """Give ``suite`` these properties, replacing any of the same names it already has."""
    for prop in list(suite.properties()):  # type: ignore[no-untyped-call]
        if prop.name in props:
            suite.remove_property(prop)
    for name, value in props.items():
        suite.add_property(name, value)


def read_suites(path: Path) -> list[TestSuite]:
    """The suites of a JUnit file, whether its root is <testsuites> or a single <testsuite>."""
    xml = JUnitXml.fromfile(str(path))
    if isinstance(xml, TestSuite):
        return [xml]
    return list(xml)


def write_cell_junit(result: CellResult, cell_dir: Path, extra: Iterable[Path] = ()) -> Path:
    """Write ``<cell_dir>/junit.xml``: the stage suite, then the suites of each readable ``extra`` file."""
    suites = [stage_suite(result, cell_dir)]
    props = cell_properties(result)
    for path in extra:
        with contextlib.suppress(OSError, JUnitXmlError, SyntaxError, ValueError):
            for suite in read_suites(path):
                set_properties(suite, props)
                suites.append(suite)
    target = cell_dir / "junit.xml"
    _write(target, suites)
    return target


def _write(path: Path, suites: Iterable[TestSuite]) -> None:
    xml = JUnitXml()
    for suite in suites:
        xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    xml.write(buffer, pretty=True)
    write_atomic(path, buffer.getvalue())

"""The merged JUnit of every cell: each cell's suites as it wrote them, plus one for cells without.

Each cell's suites already carry its parameters as properties (``vllm_matrix.junit``)
and are copied from its junit.xml as written (serialised again only when one
file held several cells). A cell with no JUnit of its own (n/a, no result, an
unreadable result) gets a suite made here with junitparser, with the same
properties: an n/a cell is a skipped case, a missing or unreadable one an
error case, never a pass. The
document is written suite by suite, so its size never sits in memory as a tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from junitparser import Error, Skipped, TestCase, TestSuite

from vllm_matrix.junit import STAGE_CLASSNAME, cell_properties, set_properties
from vllm_matrix.report.junitread import suite_bytes
from vllm_matrix.report.legend import NO_RESULT, UNREADABLE
from vllm_matrix.report.model import CellView

ROOT_NAME = "vllm-matrix"


def synthetic_suite(view: CellView) -> TestSuite:
    """A suite for a cell that has no JUnit: its parameters, and one ``cell`` case saying why."""
    suite = TestSuite(view.id)
    props = cell_properties(view.result) if view.result else _axes_properties(view)
    set_properties(suite, props)
    case = TestCase("cell", classname=STAGE_CLASSNAME)
    if view.status == "n/a":
        case.result = [Skipped(f"n/a: {view.result.message if view.result else ''}".strip())]
    elif view.status in (NO_RESULT, UNREADABLE):
        case.result = [Error(view.entry.reason or view.status, type_=view.status.upper().replace("-", "_"))]
    elif view.status not in ("pass", "skip"):
        case.result = [Error(view.decisive or view.status, type_=view.klass or view.status)]
    elif view.status == "skip":
        case.result = [Skipped(view.decisive or "skipped")]
    suite.add_testcase(case)
    suite.update_statistics()  # type: ignore[no-untyped-call]
    return suite


def _axes_properties(view: CellView) -> dict[str, str]:
    props = {"cell_id": view.id, "run": view.run, "outcome": view.status}
    return props | {
        k: str(v) for k, v in view.entry.cell.items() if k not in ("id", "tags") and v is not None
    }


def write(path: Path, cells: Sequence[CellView]) -> None:
    """Write the merged document: a <testsuites> root with every cell's suites in grid order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chunks = list(_chunks(cells))
    with path.open("wb") as fh:
        fh.write(b'<?xml version="1.0" encoding="utf-8"?>\n')
        fh.write(f"<testsuites name={quoteattr(ROOT_NAME)}>\n".encode())
        for chunk in chunks:
            fh.write(chunk)
            fh.write(b"\n")
        fh.write(b"</testsuites>\n")


def _chunks(cells: Iterable[CellView]) -> Iterable[bytes]:
    for view in cells:
        junit = view.entry.junit
        if junit and junit.source and view.result is not None:
            yield suite_bytes(junit.source)
        elif junit and junit.xml and view.result is not None:
            yield from junit.xml
        else:
            yield synthetic_suite(view).tostring()  # type: ignore[no-untyped-call]

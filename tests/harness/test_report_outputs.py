"""The machine outputs: report.json (versioned, documented), the merged JUnit, matrix.svg and matrix.png."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Error, Skipped
from PIL import Image
from reportruns import BREAKS, FLIPS, NIGHTS, PASSES, SCRIPT, SHARES, run_night

from vllm_matrix.junit import read_suites
from vllm_matrix.report import build, image, inputs, jsonreport, model
from vllm_matrix.results import CellResult, RunStore

DOCS = Path(__file__).parents[2] / "docs"


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outputs")
    run_dir = run_night(root / "reports", root / "w", NIGHTS[1])
    na = CellResult(
        id="fa3_on_blackwell",
        run="n2",
        outcome="n/a",
        cell={"cuda": "cu130", "flash_attn": 3},
        message="FA3 is built for sm_90a only",
    )
    RunStore(run_dir).write_result(na)
    plan = root / "plan.json"
    plan.write_text(json.dumps([{"id": "never_came", "cuda": "cu126", "arch": "12.0", "flash_attn": 2}]))
    target = root / "site"
    build.build(inputs.load([run_dir], plan=plan), [], target)
    return target


def test_report_json_is_versioned_and_holds_every_cell(out: Path) -> None:
    data = json.loads((out / "report.json").read_text())
    assert (data["schema"], data["schema_version"]) == ("vllm-matrix-report", jsonreport.SCHEMA_VERSION)
    cells = {c["id"]: c for c in data["cells"]}
    assert len(cells) == 7
    assert (cells[BREAKS]["status"], cells[BREAKS]["class"], cells[BREAKS]["stage"]) == (
        "fail",
        "NVCC_UNSUPPORTED_ARCH",
        "build",
    )
    assert cells["fa3_on_blackwell"]["status"] == "n/a"
    assert cells["never_came"]["status"] == "no-result" and cells["never_came"]["verdict"] is None
    assert cells[FLIPS]["failing_tests"][0]["message"].endswith(SCRIPT), "JSON keeps the text as it was"
    assert cells[PASSES]["figures"]["decode_tok_s"] == "1620.0"
    assert data["totals"]["cells"] == 7 and data["pivot"]["columns"][0] == "2026-11-28"


def _shape(value: object) -> object:
    """The keys of nested objects (the first element stands for a list)."""
    if isinstance(value, dict):
        return {
            k: _shape(v) for k, v in value.items() if k not in ("axes", "figures", "totals", "cells", "key")
        }
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [_shape(value[0])]
    return None


def test_the_documented_example_has_the_shape_the_tool_writes(out: Path) -> None:
    data = json.loads((out / "report.json").read_text())
    example = json.loads((DOCS / "report-example.json").read_text())
    assert example["schema_version"] == data["schema_version"]
    assert _shape(example) == _shape(data)
    assert set(example["cells"][0]) == set(data["cells"][0])
    assert "report-example.json" in (DOCS / "report.md").read_text()


def test_the_merged_junit_has_every_cell_with_its_parameters(out: Path) -> None:
    suites = read_suites(out / "junit.xml")
    by_cell: dict[str, list[object]] = {}
    for suite in suites:
        props = {p.name: p.value for p in suite.properties()}
        by_cell.setdefault(props["cell_id"], []).append(suite)
        assert props["run"] == "n2" and "outcome" in props
    assert set(by_cell) == {
        PASSES,
        FLIPS,
        BREAKS,
        SHARES,
        "b200",
        "fa3_on_blackwell",
        "never_came",
    }
    assert len(by_cell[PASSES]) == 2, "the stage suite and the payload suite"
    (missing,) = by_cell["never_came"]
    (case,) = list(missing)  # type: ignore[call-overload]
    assert isinstance(case.result[0], Error) and case.result[0].type == "NO_RESULT", "never a pass"
    (na,) = by_cell["fa3_on_blackwell"]
    (na_case,) = list(na)  # type: ignore[call-overload]
    assert isinstance(na_case.result[0], Skipped) and "sm_90a" in (na_case.result[0].message or "")


def test_matrix_svg_and_png_are_the_grid_at_800_px(out: Path) -> None:
    root = ET.parse(out / "matrix.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and int(root.get("width", "0")) <= image.TARGET_WIDTH
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"FAIL", "FAIL (exp.)", "pass", "skip", "n/a", "no result", "NUMERICS"} <= set(texts)
    wrapped = [t for t in texts if t and t.startswith("NVCC_") and t.endswith("_")]
    assert wrapped and "ARCH" in texts, "a long class wraps after an underscore, never mid-word"
    with Image.open(out / "matrix.png") as png:
        assert png.format == "PNG"
        assert png.width == int(root.get("width", "0")) * image.PNG_SCALE
        colours = {png.getpixel((x, y)) for x in range(0, png.width, 7) for y in range(0, png.height, 7)}
    assert (0xCF, 0x22, 0x2E) in colours and (0x1A, 0x7F, 0x37) in colours, "red fail and green pass boxes"


def test_an_svg_label_with_markup_is_escaped() -> None:
    result = CellResult(id="x", run="r", outcome="fail", cell={"cuda": "<cu&>"}, klass="A<B")
    cells = model.views([inputs.Entry("x", "r", "result", cell=result.cell, result=result)])
    text = image.svg(image.layout(model.pivot(cells), "t", "f"))
    ET.fromstring(text)
    assert "&lt;cu&amp;&gt;" in text and "A&lt;B" in text

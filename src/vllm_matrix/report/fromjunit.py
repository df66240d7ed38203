"""A cell's result rebuilt from its JUnit alone (a CI artifact without result.json).

The runner writes the cell's parameters, outcome and resolved versions as suite
properties and the failing stage as a ``<failure type="CLASS">`` whose text
starts with ``evidence:`` lines (``vllm_matrix.junit``): that is enough for the
grid, the failure list and the resolved versions.
"""

from __future__ import annotations

from typing import Any

from vllm_matrix.junit import PROPERTY_FIELDS
from vllm_matrix.report.junitread import JUnitSummary
from vllm_matrix.results import CellResult
from vllm_matrix.stages.state import CellState, VllmChoice

UNCLASSIFIED = "UNCLASSIFIED"  # what junit.py writes when a failure has no class


def result_from_junit(cell_id: str, summary: JUnitSummary) -> CellResult:
    """The CellResult the suites' properties and stage cases describe."""
    props = summary.properties
    failure = summary.stage_failure
    outcome = props.get("outcome") or ("fail" if failure else "")
    result = CellResult(id=cell_id, run=props.get("run", ""), outcome=outcome, cell=_cell(cell_id, props),
                        experimental=props.get("experimental") == "true", stages=list(summary.stages),
                        facts=_facts(props))  # fmt: skip
    if failure is not None and outcome != "pass":
        klass = failure.klass if failure.klass not in (None, UNCLASSIFIED, "error", "interrupted") else None
        result.stage, result.klass = failure.stage, klass
        result.message = failure.message.removeprefix(f"{klass}: ") if klass else failure.message
        result.evidence = [line.removeprefix("evidence: ") for line in failure.text.splitlines()
                           if line.startswith("evidence: ")]  # fmt: skip
    elif outcome == "skip":
        result.message = summary.skip_message
    return result


def _cell(cell_id: str, props: dict[str, str]) -> dict[str, Any]:
    cell: dict[str, Any] = {"id": cell_id}
    for key in PROPERTY_FIELDS:
        if key in props:
            cell[key] = _value(key, props[key])
    cell["experimental"] = props.get("experimental") == "true"
    return cell


def _value(key: str, text: str) -> Any:
    if key == "flash_attn":
        return int(text) if text.isdigit() else None
    if key == "enforce_eager":
        return text == "true"
    return text


def _facts(props: dict[str, str]) -> CellState:
    commit = props.get("vllm_commit")
    return CellState(
        torch_version=props.get("torch_version"),
        torch_git_version=props.get("torch_git_version"),
        vllm_version=props.get("vllm_version"),
        build_key=props.get("build_key"),
        fa_mechanism=props.get("fa_mechanism"),
        vllm=VllmChoice("git", commit=commit) if commit else None,
    )

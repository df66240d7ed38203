"""The GitHub Actions fan-out: valid YAML, the plan -> cell -> report -> Pages chain, and its merge step
run for real on artifacts laid out as download-artifact leaves them, one of them missing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from reportruns import BREAKS, NIGHTS, run_night

from vllm_matrix.commands.plan import render
from vllm_matrix.matrix import config, expand

ROOT = Path(__file__).parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "matrix.yml"


@pytest.fixture(scope="module")
def flow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    return [s["uses"].split("@")[0] for s in steps(job) if "uses" in s]


def test_it_is_triggered_nightly_and_by_hand(flow: dict[str, Any]) -> None:
    triggers = flow.get("on") or flow.get(True)  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"schedule", "workflow_dispatch"}


def test_plan_then_one_job_per_cell_on_its_gpu_runner(flow: dict[str, Any]) -> None:
    jobs = flow["jobs"]
    assert list(jobs) == ["plan", "cell", "report", "deploy"]
    plan_run = " ".join(s.get("run", "") for s in steps(jobs["plan"]))
    assert (
        "vllm-matrix plan --format github" in plan_run
        and "vllm-matrix plan --format json > plan.json" in plan_run
    )
    cell = jobs["cell"]
    assert cell["needs"] == "plan" and cell["runs-on"] == ["self-hosted", "${{ matrix.gpu }}"]
    assert cell["strategy"] == {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"}
    upload = next(s for s in steps(cell) if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["name"] == "cell-${{ matrix.id }}"


def test_every_matrix_key_the_workflow_uses_is_in_the_plan() -> None:
    cells = expand.expand(config.load(ROOT / "matrix.toml"))
    include = json.loads(render(cells, "github"))["include"]
    used = set(re.findall(r"matrix\.(\w+)", WORKFLOW.read_text()))
    assert used == {"gpu", "experimental", "command", "id"}
    assert all(used <= set(entry) for entry in include)


def test_the_report_runs_after_failed_cells_and_goes_to_pages(flow: dict[str, Any]) -> None:
    report, deploy = flow["jobs"]["report"], flow["jobs"]["deploy"]
    assert report["needs"] == ["plan", "cell"] and report["if"].startswith("always()")
    assert uses(report) == [
        "actions/checkout",
        "actions/setup-python",
        "actions/download-artifact",
        "actions/download-artifact",
        "actions/upload-pages-artifact",
    ]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert uses(deploy) == ["actions/deploy-pages"]


def merge_script(flow: dict[str, Any]) -> str:
    step = next(
        s for s in steps(flow["jobs"]["report"]) if s.get("name") == "merge the cells into the report"
    )
    script = str(step["run"])
    assert "${{" not in script, "the merge step reads only files and the environment"
    return script


def test_the_merge_step_builds_the_site_and_a_missing_artifact_is_no_result(
    flow: dict[str, Any], tmp_path: Path
) -> None:
    run_dir = run_night(tmp_path / "reports", tmp_path / "w", NIGHTS[1])
    cells = expand.expand(config.load(tmp_path / "w" / "matrix.toml"))
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan" / "plan.json").write_text(render(cells, "json"))
    for cell in cells:
        if cell.id == BREAKS:
            continue  # its runner died: no artifact
        job = tmp_path / "artifacts" / f"cell-{cell.id}"
        shutil.copytree(run_dir / "cells" / cell.id, job / "cells" / cell.id)
        meta = json.loads((run_dir / "run.json").read_text()) | {"selected": [cell.id]}
        (job / "run.json").write_text(json.dumps(meta))
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "GITHUB_STEP_SUMMARY": str(summary),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", merge_script(flow)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"vllm-matrix: report: cell {BREAKS} of run n2: no result (planned, but no artifact came back)"
        in (done.stderr)
    )
    report = json.loads((tmp_path / "site" / "report.json").read_text())
    statuses = {c["id"]: c["status"] for c in report["cells"]}
    assert statuses[BREAKS] == "no-result" and len(statuses) == len(cells)
    assert "❔" in summary.read_text() and (tmp_path / "site" / "index.html").is_file()

"""Time and peak memory to build the report of 1,000 cells x 200 test cases (goal: < 5 s, < 300 MB).

The fixture is generated with the harness's own writers: result.json through
``RunStore.write_result`` and junit.xml through ``junit.write_cell_junit``
(the stage suite plus a 200-case pytest suite with the figures), one template
per kind of cell, copied with its id replaced. 25 nightlies x 2 CUDA x 2 arch
x 2 FA x 5 vLLM refs; 70% pass, 15% fail (with a build log), 10% skip, 5% n/a.
The build runs in a child process, so its peak RSS is the report's alone.

    python benchmarks/bench_report.py [--cells 1000] [--cases 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vllm_matrix.junit import write_cell_junit
from vllm_matrix.results import CellResult, RunStore, StageRecord
from vllm_matrix.stages.state import ArchAudit, CellState, SuiteCounts, TorchChoice, VllmChoice

GOAL_S, GOAL_MB = 5.0, 300
RUN = "bench"
TEMPLATE = "template_cell"
KINDS = ("pass",) * 14 + ("fail",) * 3 + ("skip",) * 2 + ("n/a",)  # 70 / 15 / 10 / 5 %


def cell_axes(index: int) -> dict[str, object]:
    """The index-th cell of 25 nightlies x 2 CUDA x 2 arch x 2 FA x 5 vLLM refs."""
    combos = itertools.product(
        range(25),
        ("cu128", "cu130"),
        ("12.0", "10.0;12.0"),
        (2, 3),
        ("main", "v0.33.0", "v0.32.0", "v0.31.0", "v0.30.0"),
    )
    day, cuda, arch, fa, ref = next(itertools.islice(combos, index % 1000, None))
    return {
        "python": "3.12",
        "torch": f"nightly:2026-11-{day + 1:02d}",
        "cuda": cuda,
        "arch": arch,
        "flash_attn": fa,
        "vllm": f"git:{ref}",
        "gpu": "sm_120",
        "dtype": "bfloat16",
        "enforce_eager": False,
        "suites": ["kernels", "generation"],
        "experimental": fa == 3,
    }


def pytest_junit(cases: int, failing: bool) -> str:
    body = [
        f'<testcase classname="kernels.test_ops" name="test_op[{i}]" time="0.01"/>' for i in range(cases - 2)
    ]
    props = "".join(
        f'<property name="{k}" value="{v}"/>'
        for k, v in {
            "decode_tok_s": 1520.5,
            "ttft_s": 0.011,
            "engine_start_cold_s": 40.1,
            "peak_rss_gib": 2.6,
            "kv_cache_tokens": 933888,
            "kv_cache_gib": 1.781,
        }.items()
    )
    body.append(
        f'<testcase classname="generation.test_speed" name="test_tiny_model_figures" time="3">'
        f"<properties>{props}</properties></testcase>"
    )
    fail = '<failure message="AssertionError: tokens differ at 3">Traceback ...</failure>' if failing else ""
    body.append(
        f'<testcase classname="generation.test_generation" name="test_greedy_matches_hf">{fail}</testcase>'
    )
    counts = f'tests="{cases}" failures="{int(failing)}" errors="0" skipped="0"'
    head = f'<testsuite name="{TEMPLATE}.suites" {counts}>'
    return f"<testsuites>{head}{''.join(body)}</testsuite></testsuites>"


def template(kind: str, cases: int, work: Path) -> tuple[CellResult, Path]:
    """One cell of ``kind`` written by the real writers into ``work``: its result and its cell dir."""
    cell_dir = work / kind.replace("/", "") / "cells" / TEMPLATE
    (cell_dir / "logs").mkdir(parents=True)
    version = "2.11.0.dev20261101+cu128"
    facts = CellState(
        torch=TorchChoice("nightly:2026-11-01", "nightly", version, (f"torch=={version}",)),
        vllm=VllmChoice("git", ref="main", commit="5e3f1a2" * 5 + "abcde"),
        build_key="k" * 16,
        torch_version=version,
        torch_git_version="cf30153c" * 5,
        vllm_version="0.33.1",
        arch_audit=ArchAudit(gpu="sm_120", verdicts={"native": 4}),
        suites=SuiteCounts(("kernels", "generation"), "pytest-junit.xml", cases, 0, 0, 0),
    )
    stages = [
        StageRecord(s, "pass", 3.2, f"logs/{s}.log") for s in ("resolve", "venv", "torch", "source", "build")
    ]
    result = CellResult(
        id=TEMPLATE, run=RUN, outcome=kind if kind != "n/a" else "n/a", cell={}, facts=facts, stages=stages
    )
    for record in stages:
        (cell_dir / str(record.log)).write_text("".join(f"{record.name}: line {i}\n" for i in range(200)))
    if kind == "fail":
        result.stage, result.klass, result.log = "build", "NVCC_UNSUPPORTED_ARCH", "logs/build.log"
        result.evidence, result.evidence_line = (
            ["nvcc fatal   : Unsupported gpu architecture 'compute_120'"],
            150,
        )
        result.message = "building vLLM failed (exit 1)"
    elif kind in ("skip", "n/a"):
        result.stages, result.message = (
            [],
            "needs an NVIDIA sm_120 GPU" if kind == "skip" else "FA3 is sm_90a only",
        )
    if kind == "pass":
        (cell_dir / "pytest-junit.xml").write_text(pytest_junit(cases, failing=False))
    write_cell_junit(result, cell_dir, [cell_dir / "pytest-junit.xml"])
    return result, cell_dir


def generate(root: Path, cells: int, cases: int) -> Path:
    """``cells`` cells of one run under ``root``; the run directory."""
    templates = {kind: template(kind, cases, root / "templates") for kind in set(KINDS)}
    store = RunStore(root / "reports" / RUN)
    ids = []
    for index in range(cells):
        kind = KINDS[index % len(KINDS)]
        result, source = templates[kind]
        cell_id = f"c{index:04d}"
        target = store.cell_dir(cell_id)
        shutil.copytree(source / "logs", target / "logs")
        (target / "junit.xml").write_text((source / "junit.xml").read_text().replace(TEMPLATE, cell_id))
        data = result.to_dict() | {"id": cell_id, "cell": {"id": cell_id, **cell_axes(index)}}
        (target / "result.json").write_text(json.dumps(data))
        ids.append(cell_id)
    store.write_meta({"run": RUN, "selected": ids, "started_at": "2026-11-25T06:00:00+00:00"})
    return store.root


def build_child(run_dir: Path, out: Path) -> None:
    """In the child: load and build the report, print the seconds it took."""
    from vllm_matrix.report import build, inputs

    began = time.perf_counter()
    loaded = inputs.load([run_dir])
    report = build.build(loaded, [], out)
    print(json.dumps({"seconds": time.perf_counter() - began, "cells": len(report.cells)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--child", nargs=2, metavar=("RUN_DIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        build_child(Path(args.child[0]), Path(args.child[1]))
        return 0
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        return _measure(root, args.cells, args.cases)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def _measure(root: Path, cells: int, cases: int) -> int:
    began = time.perf_counter()
    run_dir = generate(root, cells, cases)
    print(f"fixture: {cells} cells x {cases} test cases in {time.perf_counter() - began:.1f}s ({run_dir})")
    child = [sys.executable, __file__, "--child", str(run_dir), str(root / "site")]
    done = subprocess.run(child, capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    ok = figures["seconds"] < GOAL_S and peak_mb < GOAL_MB
    print(
        f"report of {figures['cells']} cells: {figures['seconds']:.2f}s wall ({cpu:.2f}s CPU in the child, "
        f"interpreter start included), peak RSS {peak_mb:.0f} MB (goal: < {GOAL_S:.0f} s, < {GOAL_MB} MB): "
        f"{'ok' if ok else 'OVER GOAL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

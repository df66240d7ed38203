"""Build once, test many: 4 cells sharing one build key, cold run against warm re-run.

Run: ``python3 benchmarks/bench_runner.py``. Prints figures; asserts nothing.

The cells build the fixture vLLM (``tests/harness/fakevllm.py``: real git, a
real torch C++ extension) against a torch "nightly" served by a loopback
index (``tests/harness/torchnightly.py``: the real torch 2.13.0+cpu wheel,
repacked), and differ only in a runtime axis (dtype), so they share one
build key. Cold: a fresh work dir (the uv cache stays warm, as on any machine
that ran the matrix before). Warm: a new run on the same work dir.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[1] / "tests" / "harness"
sys.path.insert(0, str(HARNESS))

from fakevllm import make_fake_vllm  # noqa: E402
from torchnightly import WheelUnavailable, cache_root, repacked_wheels, serve_nightlies  # noqa: E402

from vllm_matrix.hardware import Hardware  # noqa: E402
from vllm_matrix.matrix import config, expand  # noqa: E402
from vllm_matrix.results import CellResult, RunStore  # noqa: E402
from vllm_matrix.runner import Runner  # noqa: E402
from vllm_matrix.workdir import Workdir  # noqa: E402

MATRIX = """
[defaults]
python = "3.11"
torch = "nightly:2026-11-01"
cuda = "cpu"
gpu = "cpu"
arch = "8.0;12.0"
vllm = "git:main"
suites = ["kernels"]

[ids]
template = "{dtype}"

[matrix]
dtype = ["float32", "bfloat16", "float16", "auto"]
"""
PAYLOAD = HARNESS.parent / "resources" / "sourcepath" / "payload"


def builds(results: list[CellResult]) -> int:
    """Cells whose build stage really ran (not reused)."""
    return sum(1 for r in results for s in r.stages if s.name == "build" and s.status != "reused")


def run(runner: Runner, cells: list[expand.Cell]) -> tuple[float, list[CellResult]]:
    start = time.monotonic()
    results = runner.run(cells)
    return time.monotonic() - start, results


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench_runner_"))
    fake = make_fake_vllm(root)
    (root / "matrix.toml").write_text(MATRIX)
    cfg = config.load(root / "matrix.toml")
    cells = expand.expand(cfg)
    try:
        wheels = repacked_wheels(["20261101"], cache_root())
    except WheelUnavailable as exc:
        print(f"cannot run: {exc}")
        return
    with serve_nightlies(root / "nightly", wheels) as nightlies:
        env = dict(os.environ, VLLM_MATRIX_INDEX_NIGHTLY=nightlies.url, VLLM_MATRIX_VLLM_GIT=str(fake.path))
        env["VLLM_MATRIX_PAYLOAD_DIR"] = str(PAYLOAD)
        work = Workdir(root=root / "work", uv_cache=cache_root() / "uv-cache")
        work.ensure()
        timings = {name: measure(name, cfg, cells, root, work, env) for name in ("cold", "warm")}
    ratio = timings["warm"] / timings["cold"]
    print(f"warm re-run / cold run: {timings['warm']:.1f} s / {timings['cold']:.1f} s = {ratio:.2f}")
    print(f"work dir: {work.root}")


def measure(name: str, cfg: config.MatrixConfig, cells: list[expand.Cell], root: Path, work: Workdir,
            env: dict[str, str]) -> float:  # fmt: skip
    """Run the 4 cells as a new run on ``work``; print builds executed and per-stage times."""
    runner = Runner(cfg, RunStore(root / "reports" / name), work, Hardware(), environ=env)
    seconds, results = run(runner, cells)
    outcomes = ", ".join(f"{r.id}={r.outcome}" for r in results)
    print(f"{name}: {len(results)} cells in {seconds:.1f} s; builds executed: {builds(results)}; {outcomes}")
    for result in results:
        stages = " ".join(f"{s.name}:{s.status}:{s.duration_s:.1f}s" for s in result.stages)
        print(f"  {result.id}: {stages}")
    return seconds


if __name__ == "__main__":
    main()

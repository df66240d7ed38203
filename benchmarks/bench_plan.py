"""Time to expand and list a 10,000-cell matrix (printed, never asserted).

python3 benchmarks/bench_plan.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vllm_matrix.matrix import config, expand

# 10 dates x 5 variants x 4 arch lists x 2 FA x 5 refs x 5 dtypes/eager = 10,000 cells
MATRIX = """
[ids]
template = "{torch}_{cuda}_{arch}_{flash_attn}_{vllm}_{dtype}_{eager}"
[matrix]
torch = ["nightly:2026-11-01..2026-11-10"]
cuda = ["cu126", "cu128", "cu129", "cu130", "cu132"]
arch = ["12.0", "10.0;12.0", "9.0a;10.0;12.0", "12.0+PTX"]
flash_attn = [2, 3]
vllm = ["git:main", "git:v0.33.0", "git:v0.32.0", "git:v0.31.0", "git:v0.30.0"]
gpu = ["sm_120"]
dtype = ["bfloat16", "float16", "float32", "auto"]
enforce_eager = [true, false]
[[matrix.exclude]]
dtype = "auto"
enforce_eager = true
[[matrix.exclude]]
dtype = "float32"
enforce_eager = true
[[matrix.exclude]]
dtype = "float16"
enforce_eager = true
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matrix.toml"
        path.write_text(MATRIX)
        start = time.perf_counter()
        cfg = config.load(path)
        loaded = time.perf_counter()
        cells = expand.expand(cfg)
        expanded = time.perf_counter()
        print(f"cells: {len(cells)}")
        print(f"load + validate matrix.toml: {(loaded - start) * 1000:.1f} ms")
        print(f"expand (product, exclude, include, ids): {(expanded - loaded) * 1000:.1f} ms")
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "vllm_matrix", "--matrix", str(path), "plan", "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
        print(
            f"`vllm-matrix plan --format json` wall time (process start included): {wall:.2f} s, "
            f"{len(out.stdout) / 1e6:.1f} MB of JSON"
        )


if __name__ == "__main__":
    main()

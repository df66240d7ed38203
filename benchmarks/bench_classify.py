"""Time to classify a 200 MB build log, and the memory it takes.

Run: ``python3 benchmarks/bench_classify.py [MB]``. Prints figures; asserts nothing.
The log is generated in /tmp the way a long vLLM build prints: CMake
configure output, ninja progress lines with nvcc warnings, pip progress
bars redrawn with carriage returns, ANSI colours, a few non-UTF-8 bytes,
and the decisive ``nvcc fatal`` line near the end, followed by pip's trailer.
Three passes: the build stage (its classes, decisive line found), the suites
stage (no class applies: the OTHER fallback path), and no stage (every class).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from vllm_matrix.classify import engine as classify

HEAD = """\
  -- The CUDA compiler identification is NVIDIA 12.4.131
  -- Caffe2: CUDA nvcc is: /usr/local/cuda/bin/nvcc
  CMake Warning at CMakeLists.txt:114 (message):
    Pytorch version 2.8.0 expected for CUDA build, saw 2.10.0 instead.
  -- CUDA target arches: 80-real;90-real;120-real
"""
TAIL = """\
  FAILED: CMakeFiles/_C.dir/csrc/quantization/gptq/q_gemm.cu.o
  \x1b[1m\x1b[31mnvcc fatal   \x1b[0m: Unsupported gpu architecture 'compute_120'
  ninja: build stopped: subcommand failed.
  error: subprocess-exited-with-error
  note: This error originates from a subprocess, and is likely not a problem with pip.
ERROR: Failed to build installable wheels for some pyproject.toml based projects (vllm)
"""


BAR = "\u2501" * 4


def chunk(first: int) -> bytes:
    """About 1 MB of build noise, numbered from ``first``."""
    lines = []
    for i in range(first, first + 6000):
        lines.append(f"  \x1b[32m[{i}/2000000]\x1b[0m Building CUDA object CMakeFiles/_C.dir/csrc/k_{i}.cu.o")
        if i % 9 == 0:
            lines.append(
                f"  /work/src/vllm/csrc/moe/topk_softmax_kernels.cu({i % 400}): warning #177-D: variable"
                ' "warp_id" was declared but never referenced'
            )
        if i % 500 == 0:
            lines.append(f"     {BAR[:2]} 0.0/180.0 kB ? eta -:--:--\r     {BAR} 180/180 kB")
    return ("\r\n".join(lines) + "\r\n").encode() + b"  path with a Latin-1 byte: /home/j\xfcrgen\n"


def write_log(path: Path, megabytes: int) -> int:
    with path.open("wb") as out:
        out.write(HEAD.encode())
        first = 1
        while out.tell() < megabytes << 20:
            out.write(chunk(first))
            first += 6000
        out.write(TAIL.encode())
        return out.tell()


def timed(path: Path, stage: str | None) -> None:
    size = path.stat().st_size
    start = time.perf_counter()
    d = classify.classify_file(path, stage)
    took = time.perf_counter() - start
    print(
        f"  stage={stage or 'any':7} {took:6.2f} s  {size / took / 1e6:6.1f} MB/s  -> {d.klass} "
        f"(line {d.line_number}) {d.evidence[0][:60]!r}"
    )


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        path = Path(tmp) / "build.log"
        start = time.perf_counter()
        size = write_log(path, megabytes)
        print(f"generated {size / 1e6:.0f} MB log in {time.perf_counter() - start:.1f} s: {path}")
        for stage in ("build", "suites", None):
            timed(path, stage)
        tracemalloc.start()
        classify.classify_file(path, "build")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  peak Python memory while classifying: {peak / 1e6:.1f} MB (log {size / 1e6:.0f} MB)")
        print(f"  max RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")


if __name__ == "__main__":
    main()

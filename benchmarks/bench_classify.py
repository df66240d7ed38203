"""Time to classify a 200 MB build log, the memory it takes, and the accuracy on the real-log corpus.

Run: ``python3 benchmarks/bench_classify.py [MB]``. Prints figures; asserts nothing
(tests/harness/test_corpus.py holds the accuracy, tests/harness/test_classify.py the memory).
The log is generated in /tmp the way a long vLLM build prints: CMake
configure output, ninja progress lines with nvcc warnings, pip progress
bars redrawn with carriage returns, ANSI colours, a few non-UTF-8 bytes,
and the decisive ``nvcc fatal`` line near the end, followed by pip's trailer.
Three passes: the build stage (its classes, decisive line found), the suites
stage (no class applies: the OTHER fallback path), and no stage (every class).
Each prints wall-clock and CPU-time throughput (on a shared machine the CPU
figure is the classifier's own), and whether the one-pass needle automaton
(ahocorasick-rs) was used.

A fourth pass reads a smaller log coloured word by word, as ``clang -fcolor-diagnostics``
or a rich progress display prints it (a dozen sequences a line, many right after a letter):
with a sequence every 13 bytes, blocks are stripped of their sequences before the search, as
all blocks were before (``linematch.DENSE``; too many needles a sequence could break), and this
is the slow case.

Then the corpus (tests/resources/corpus): per class, how many entries of its dev
part (tuned on) and its test part (held out) get the right class and the right
decisive line, as ``evaluate.py --split dev|test`` prints them.
"""

from __future__ import annotations

import importlib.util
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

from vllm_matrix.classify import catalogue
from vllm_matrix.classify import engine as classify

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "resources" / "corpus"

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


DENSE = (
    "\x1b[1m\x1b[32m[{i}/90000]\x1b[0m \x1b[1m/src/csrc/k_{i}.cu:12:3: \x1b[0m\x1b[1;35mwarning\x1b[0m: "
    "\x1b[1munused variable 'x'\x1b[0m [\x1b[0;1;35m-Wunused-variable\x1b[0m]\n"
)


def write_dense_log(path: Path, megabytes: int) -> int:
    with path.open("wb") as out:
        first = 1
        while out.tell() < megabytes << 20:
            out.write("".join(DENSE.format(i=i) for i in range(first, first + 5000)).encode())
            first += 5000
        out.write(TAIL.encode())
        return out.tell()


def timed(path: Path, stage: str | None, label: str = "") -> None:
    size = path.stat().st_size
    start, cpu = time.perf_counter(), time.process_time()
    d = classify.classify_file(path, stage)
    took, cpu_took = time.perf_counter() - start, time.process_time() - cpu
    fast = "automaton" if classify.needle_set(catalogue.builtin(), stage).fast else "bytes.find"
    print(
        f"  {label}stage={stage or 'any':7} {took:6.2f} s  {size / took / 1e6:6.1f} MB/s wall, "
        f"{size / cpu_took / 1e6:6.1f} MB/s CPU ({fast}) -> {d.klass} (line {d.line_number}) "
        f"{d.evidence[0][:48]!r}"
    )


def corpus_evaluate() -> ModuleType:
    """tests/resources/corpus/evaluate.py, imported from its path."""
    spec = importlib.util.spec_from_file_location("corpus_evaluate", CORPUS / "evaluate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus() -> None:
    """Per-class figures of the real-log corpus, dev and test part side by side."""
    ev = corpus_evaluate()
    start = time.perf_counter()
    reports = {}
    for split in ("dev", "test"):
        entries = ev.load_entries(split)
        reports[split] = ev.score(split, entries, [ev.classify_in_process(e) for e in entries])
    took = time.perf_counter() - start
    total = sum(r["total"] for r in reports.values())
    print(f"corpus: {total} real logs classified in {took:.1f} s (class right / decisive line right)")
    print(f"  {'class':30} {'dev':>22} {'test':>22}")
    classes = sorted({k for r in reports.values() for k in r["per_class"]})
    for name in [*classes, "OVERALL"]:
        print(f"  {name:30} {_cell(reports['dev'], name):>22} {_cell(reports['test'], name):>22}")


def _cell(report: dict[str, object], name: str) -> str:
    per = report["per_class"]
    assert isinstance(per, dict)
    row = report if name == "OVERALL" else per.get(name)
    if not isinstance(row, dict) or not row.get("n", row.get("total")):
        return "-"
    n = int(row.get("n", row.get("total", 0)))
    c, d = int(row["class_correct"]), int(row["decisive_correct"])
    return f"{c}/{n} {100 * c / n:3.0f}% {d}/{n} {100 * d / n:3.0f}%"


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
        path.unlink()
        dense = Path(tmp) / "dense.log"
        size = write_dense_log(dense, max(megabytes // 4, 1))
        print(f"generated {size / 1e6:.0f} MB log coloured word by word: {dense}")
        timed(dense, "build", "dense ")
    corpus()


if __name__ == "__main__":
    main()

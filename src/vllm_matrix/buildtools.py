"""What a source build compiles with: the C++ compiler, nvcc and the GPU archs it knows, torch's CUDA.

The configure-only preflight records these beside CMake's verdict and turns
the mismatches it can see into findings: a CUDA target against a torch built
without CUDA, a CUDA target without a toolkit, an arch nvcc cannot compile
for. They are facts read from the machine (``torch/version.py``, ``nvcc
--list-gpu-arch``), never guesses about a failure; the verdict stays CMake's.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

QUERY_TIMEOUT_S = 30
_TORCH_CUDA = re.compile(r"^cuda(?::[^=]*)?=\s*(None|['\"]([^'\"]*)['\"])", re.MULTILINE)
_RELEASE = re.compile(r"release (\d+\.\d+)")
_COMPUTE = re.compile(r"compute_(\d+)([af]?)")


@dataclass(frozen=True)
class BuildTools:
    """The compilers and torch a build of this cell would use."""

    cxx: str | None = None  # "c++ 12.2.0"
    nvcc: str | None = None  # "13.0"
    nvcc_archs: tuple[str, ...] = ()  # "7.5", ..., "12.0"
    torch_cuda: str | None = None  # torch.version.cuda; None for a CPU torch
    torch_cuda_known: bool = False  # whether torch/version.py could be read


def _output(argv: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=QUERY_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def cxx_version(environ: Mapping[str, str]) -> str | None:
    """``<compiler> <version>`` of ``$CXX`` (else ``c++``), the compiler CMake picks first."""
    compiler = environ.get("CXX") or "c++"
    version = _output([compiler, "-dumpfullversion"]) or _output([compiler, "-dumpversion"])
    return f"{compiler} {version}" if version else None


def nvcc_version(cuda_home: Path | None) -> str | None:
    """``13.0`` from ``nvcc --version`` of the toolkit, or None without one."""
    if cuda_home is None:
        return None
    found = _RELEASE.search(_output([str(cuda_home / "bin" / "nvcc"), "--version"]) or "")
    return found.group(1) if found else None


def nvcc_archs(cuda_home: Path | None) -> tuple[str, ...]:
    """The archs ``nvcc --list-gpu-arch`` names, as TORCH_CUDA_ARCH_LIST writes them (``12.0``)."""
    if cuda_home is None:
        return ()
    text = _output([str(cuda_home / "bin" / "nvcc"), "--list-gpu-arch"]) or ""
    return tuple(f"{int(n) // 10}.{int(n) % 10}{suffix}" for n, suffix in _COMPUTE.findall(text))


def torch_cuda(venv: Path) -> tuple[str | None, bool]:
    """``torch.version.cuda`` of the venv's torch, read from its version.py; (value, whether read)."""
    for path in sorted(venv.glob("lib/python*/site-packages/torch/version.py")):
        found = _TORCH_CUDA.search(path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return (None if found.group(1) == "None" else found.group(2)), True
    return None, False


def detect(environ: Mapping[str, str], cuda_home: Path | None, venv: Path) -> BuildTools:
    """The toolchain of one cell's build on this machine."""
    cuda, known = torch_cuda(venv)
    return BuildTools(cxx_version(environ), nvcc_version(cuda_home), nvcc_archs(cuda_home), cuda, known)


def unsupported_archs(arch_list: str, supported: Sequence[str]) -> tuple[str, ...]:
    """Entries of a TORCH_CUDA_ARCH_LIST that nvcc cannot compile for (``+PTX`` and ``a``/``f`` aside)."""
    have = {a.rstrip("af") for a in supported}
    entries = [a for a in re.split(r"[;\s]+", arch_list.strip()) if a]
    return tuple(a for a in entries if a.removesuffix("+PTX").rstrip("af") not in have)


def findings(tools: BuildTools, *, device: str, arch_list: str) -> tuple[str, ...]:
    """What this toolchain cannot do for a build of ``device`` with ``arch_list``, one line each."""
    if device != "cuda":
        return ()
    found = []
    if tools.torch_cuda_known and tools.torch_cuda is None:
        found.append(
            "the cell's torch has no CUDA (torch.version.cuda is None): a CUDA build needs a CUDA torch"
        )
    if tools.nvcc is None:
        found.append("no CUDA toolkit: CUDA_HOME is unset and no nvcc was found (PATH, /usr/local/cuda)")
    elif tools.nvcc_archs and arch_list:
        missing = unsupported_archs(arch_list, tools.nvcc_archs)
        if missing:
            found.append(f"nvcc {tools.nvcc} cannot compile for {', '.join(missing)} "
                         f"(it knows {', '.join(tools.nvcc_archs)})")  # fmt: skip
    return tuple(found)

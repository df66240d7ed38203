"""The environment of a vLLM source build: jobs, archs, CUDA, caches, target device.

Each choice is a pure function of facts passed in (free memory, cores, what is
on PATH, the user's environment), so it can be tested without a build, and
each comes with the reason it was made: result.json records both, and the
build stage prints MAX_JOBS with its reason before a build that can take hours.

Field data (vLLM issues #8878, #3180, #2411): vLLM divides
MAX_JOBS by NVCC_THREADS to get its ninja jobs; 64 GB of RAM was safe at
MAX_JOBS=4, 128 GB was OOM-killed at 64 jobs. So MAX_JOBS comes from free
memory first and cores second, and a value the user exported always wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

GIB = 1024**3
# Peak memory budget of one compile thread. 16 GiB for CUDA keeps a 64 GB
# machine at MAX_JOBS=4, the known-safe point; CPU builds are plain g++.
CUDA_JOB_GIB = 16
CPU_JOB_GIB = 3
# More nvcc threads than this rarely help: one thread per arch in the list.
MAX_NVCC_THREADS = 8
CUDA_HOME_FALLBACK = Path("/usr/local/cuda")
# sccache first: vLLM's setup.py prefers it too, and its -D flags win over ours.
LAUNCHERS = ("sccache", "ccache")

Which = Callable[[str], str | None]


@dataclass(frozen=True)
class Jobs:
    """MAX_JOBS and NVCC_THREADS for one build, with the reason for each."""

    max_jobs: int
    nvcc_threads: int
    reason: str


@dataclass(frozen=True)
class BuildEnv:
    """Variables to export for the build, and why each value was chosen."""

    env: dict[str, str]
    reasons: dict[str, str] = field(default_factory=dict)


def target_device(cuda: str) -> str:
    """VLLM_TARGET_DEVICE for a CUDA variant: ``cu130`` -> cuda, ``rocm6.4`` -> rocm, ``cpu``, ``xpu``."""
    if cuda in ("cpu", "xpu"):
        return cuda
    return "rocm" if cuda.startswith("rocm") else "cuda"


def arch_count(arch_list: str) -> int:
    """How many entries a TORCH_CUDA_ARCH_LIST names (``10.0;12.0`` -> 2)."""
    return len([a for a in re.split(r"[;\s]+", arch_list.strip()) if a])


def mem_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable in bytes (what can be used without swapping), or None when unknown."""
    try:
        text = meminfo.read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _user_int(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def choose_jobs(
    mem_bytes: int | None, cores: int, arch_list: str, device: str, environ: Mapping[str, str]
) -> Jobs:
    """MAX_JOBS from free memory and cores (memory first), NVCC_THREADS from the arch count.

    MAX_JOBS is the total number of compile threads: vLLM runs
    MAX_JOBS // NVCC_THREADS ninja jobs of NVCC_THREADS threads each, so the
    memory budget holds whatever NVCC_THREADS is.
    """
    cores = max(1, cores)
    per_job = CPU_JOB_GIB if device == "cpu" else CUDA_JOB_GIB
    user_jobs = _user_int(environ, "MAX_JOBS")
    if user_jobs is not None:
        max_jobs, why = user_jobs, f"MAX_JOBS={user_jobs} set in the environment"
    elif mem_bytes is None:
        max_jobs = min(cores, 2)
        why = f"MAX_JOBS={max_jobs}: MemAvailable unknown, so at most 2 of {cores} cores"
    else:
        by_mem = max(1, mem_bytes // (per_job * GIB))
        max_jobs = min(cores, by_mem)
        why = (
            f"MAX_JOBS={max_jobs}: min({cores} cores, MemAvailable {mem_bytes / GIB:.1f} GiB"
            f" / {per_job} GiB per {device} compile job = {by_mem})"
        )
    threads, threads_why = _nvcc_threads(arch_list, device, max_jobs, environ)
    return Jobs(max_jobs, threads, f"{why}; {threads_why}")


def _nvcc_threads(arch_list: str, device: str, max_jobs: int, environ: Mapping[str, str]) -> tuple[int, str]:
    user = _user_int(environ, "NVCC_THREADS")
    if user is not None:
        return user, f"NVCC_THREADS={user} set in the environment"
    if device != "cuda":
        return 1, "NVCC_THREADS=1 (no nvcc in a CPU build)"
    threads = max(1, min(arch_count(arch_list), max_jobs, MAX_NVCC_THREADS))
    return threads, (
        f"NVCC_THREADS={threads}: one per arch, at most MAX_JOBS (vLLM runs "
        f"{max(1, max_jobs // threads)} ninja jobs of {threads} threads)"
    )


def is_cuda_home(path: Path) -> bool:
    """A CUDA toolkit root: has bin/nvcc and include/cuda_runtime.h."""
    return (path / "bin" / "nvcc").is_file() and (path / "include" / "cuda_runtime.h").is_file()


def find_cuda_home(environ: Mapping[str, str], which: Which) -> tuple[Path | None, str]:
    """CUDA_HOME as torch's cpp_extension looks for it, but checked: env, nvcc on PATH, /usr/local/cuda.

    nvcc on PATH may be a wrapper script outside the toolkit, so a candidate
    counts only if it really is a toolkit root.
    """
    for name in ("CUDA_HOME", "CUDA_PATH"):
        value = environ.get(name)
        if value and is_cuda_home(Path(value)):
            return Path(value), f"{name} from the environment"
    nvcc = which("nvcc")
    if nvcc:
        root = Path(nvcc).resolve().parent.parent
        if is_cuda_home(root):
            return root, f"the toolkit of nvcc on PATH ({nvcc})"
    if is_cuda_home(CUDA_HOME_FALLBACK):
        where = f"nvcc on PATH ({nvcc}) is not inside a toolkit; " if nvcc else ""
        return CUDA_HOME_FALLBACK, f"{where}{CUDA_HOME_FALLBACK} exists"
    return None, "no CUDA toolkit found (CUDA_HOME unset, no nvcc on PATH, no /usr/local/cuda)"


def launcher_env(which: Which, cache_dir: Path, source_dir: Path) -> tuple[dict[str, str], str]:
    """Compiler-cache variables for sccache or ccache, whichever is on PATH first.

    CMake reads CMAKE_<LANG>_COMPILER_LAUNCHER from the environment.
    CCACHE_NOHASHDIR and CCACHE_BASEDIR make objects from two worktrees of
    different commits (different absolute paths) hit the same cache entries.
    """
    for tool in LAUNCHERS:
        path = which(tool)
        if not path:
            continue
        env = {f"CMAKE_{lang}_COMPILER_LAUNCHER": tool for lang in ("C", "CXX", "CUDA")}
        if tool == "ccache":
            env |= {
                "CCACHE_DIR": str(cache_dir / "ccache"),
                "CCACHE_NOHASHDIR": "true",
                "CCACHE_BASEDIR": str(source_dir),
            }
        else:
            env["SCCACHE_DIR"] = str(cache_dir / "sccache")
        return env, f"{tool} ({path})"
    return {}, "no sccache or ccache on PATH: every build compiles from scratch"


def build_env(
    *,
    cuda: str,
    arch_list: str,
    fetchcontent_dir: Path,
    cache_dir: Path,
    source_dir: Path,
    environ: Mapping[str, str],
    mem_bytes: int | None,
    cores: int,
    which: Which,
) -> BuildEnv:
    """Every variable the build stage exports, from the cell and the machine's facts."""
    device = target_device(cuda)
    jobs = choose_jobs(mem_bytes, cores, arch_list, device, environ)
    env = {
        "VLLM_TARGET_DEVICE": device,
        "MAX_JOBS": str(jobs.max_jobs),
        "NVCC_THREADS": str(jobs.nvcc_threads),
        "FETCHCONTENT_BASE_DIR": str(fetchcontent_dir),
    }
    reasons = {"MAX_JOBS": jobs.reason, "VLLM_TARGET_DEVICE": f"the cell's CUDA variant is {cuda!r}"}
    if arch_list:
        env["TORCH_CUDA_ARCH_LIST"] = arch_list
        reasons["TORCH_CUDA_ARCH_LIST"] = "the cell's arch"
    else:
        reasons["TORCH_CUDA_ARCH_LIST"] = "unset: the cell names no arch, torch picks"
    cuda_home, why = find_cuda_home(environ, which)
    reasons["CUDA_HOME"] = why
    if cuda_home is not None:
        env["CUDA_HOME"] = str(cuda_home)
    launch, why = launcher_env(which, cache_dir, source_dir)
    env |= launch
    reasons["compiler_cache"] = why
    return BuildEnv(env, reasons)

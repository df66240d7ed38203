"""The configure-only preflight: in ``vllm-matrix run --until configure`` it takes the build's place.

Every stage before it runs for real (resolve, venv, torch, source, prepare);
then, instead of compiling, the ref's own CMake configure runs with the flags
its setup.py passes (``data/configure_vllm.py`` calls setup.py's
``cmake_build_ext.configure``), in the build's environment (MAX_JOBS,
TORCH_CUDA_ARCH_LIST, CUDA_HOME, FETCHCONTENT_BASE_DIR and the offline
FetchContent trees), in a scratch build dir per build key. That takes a
minute and needs no GPU, and it fails where the build would fail first: a
compiler too old, an nvcc without the target arch, CUDA_HOME missing, a torch
without CUDA, FetchContent needing a network it cannot reach.

It is recorded as the ``build`` stage (its log is ``logs/build.log``, its
verdict is classified as a build's) with ``state.configure`` saying that it
only configured: the CMake command, the toolchain, what it found, and that no
object file was compiled.
"""

from __future__ import annotations

import json
import shutil
import sys
from importlib import resources
from pathlib import Path

from vllm_matrix import buildenv, buildtools
from vllm_matrix.proc import ProcResult
from vllm_matrix.serial import SerialError
from vllm_matrix.stages import build, fetchplan
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.sdist_source import SOURCE_INCOMPLETE
from vllm_matrix.stages.state import ConfigureFacts

# Object files CMake's own compiler checks leave are not compiled sources.
_SCRATCH = ("CMakeScratch", "CMakeTmp", "CompilerIdC", "CompilerIdCXX", "CompilerIdCUDA")


def driver() -> Path:
    """The configure driver script shipped in the package."""
    with resources.as_file(resources.files("vllm_matrix") / "data" / "configure_vllm.py") as path:
        return Path(path)


def run(ctx: StageContext) -> None:
    """Configure the tree with the ref's CMake command and compile nothing; record what was found."""
    tree = Path(str(ctx.state.source_dir))
    if not (tree / "CMakeLists.txt").is_file():
        line = f"{tree} has no CMakeLists.txt: there is no CMake configure to run"
        ctx.note(f"error: {line}")
        raise ctx.fail(line, klass=SOURCE_INCOMPLETE, evidence=[line])
    env = build.prepared_environment(ctx, tree)
    build_dir, found = scratch_dir(ctx), tools(ctx, env)
    facts = ConfigureFacts(str(build_dir), tools=found, findings=findings(ctx, found))
    print(
        f"[{ctx.cell.id}] configure only, nothing is compiled (log: {ctx.log})", file=sys.stderr, flush=True
    )
    result = configure(ctx, tree, env, build_dir)
    ctx.state.configure = recorded(facts, build_dir)
    if not result.ok:
        raise ctx.fail(f"configuring vLLM failed ({result.describe()})")
    ctx.note(f"[configure only: CMake configured in {build_dir}; nothing was compiled]")


def scratch_dir(ctx: StageContext) -> Path:
    """A fresh CMake build dir for this build key (a stale CMakeCache.txt must not hide a failure)."""
    path = ctx.work.configure_dirs / ctx.venv.name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def tools(ctx: StageContext, env: buildenv.BuildEnv) -> buildtools.BuildTools:
    """The toolchain the build would use, written to the log."""
    cuda_home = Path(env.env["CUDA_HOME"]) if env.env.get("CUDA_HOME") else None
    found = buildtools.detect({**ctx.env, **env.env}, cuda_home, ctx.venv)
    ctx.note(f"[build tools] C++ {found.cxx or 'not found'}; nvcc {found.nvcc or 'none'} "
             f"({', '.join(found.nvcc_archs) or 'no archs'}); torch CUDA {found.torch_cuda}")  # fmt: skip
    return found


def findings(ctx: StageContext, tools: buildtools.BuildTools) -> tuple[str, ...]:
    """What the toolchain cannot do for this cell, noted in the log and printed."""
    device = buildenv.target_device(ctx.cell.cuda)
    found = buildtools.findings(tools, device=device, arch_list=ctx.cell.arch)
    for line in found:
        ctx.note(f"[preflight] {line}")
        print(f"[{ctx.cell.id}] preflight: {line}", file=sys.stderr, flush=True)
    return found


def configure(ctx: StageContext, tree: Path, env: buildenv.BuildEnv, build_dir: Path) -> ProcResult:
    """Run the driver with the venv's python, its tools first on PATH (as the build sees them)."""
    argv = [ctx.python, driver(), build_dir, record_file(build_dir)]
    with fetchplan.watching_fetches(ctx, Path(env.env["FETCHCONTENT_BASE_DIR"])):
        return ctx.run(argv, env={**env.env, "PATH": ctx.tool_path, "GIT_OPTIONAL_LOCKS": "0"}, cwd=tree)


def record_file(build_dir: Path) -> Path:
    return build_dir.parent / f"{build_dir.name}.json"


def recorded(facts: ConfigureFacts, build_dir: Path) -> ConfigureFacts:
    """``facts`` with what the driver recorded (the cmake command lines) and the object files counted."""
    try:
        data = json.loads(record_file(build_dir).read_text(encoding="utf-8"))
        cmake = tuple(tuple(str(a) for a in argv) for argv in data.get("cmake", []))
        extensions = tuple(str(e) for e in data.get("extensions", []))
    except (OSError, ValueError, SerialError, AttributeError, TypeError):
        cmake, extensions = (), ()
    return ConfigureFacts(facts.build_dir, cmake, extensions, compiled_objects(build_dir), facts.tools,
                          facts.findings)  # fmt: skip


def compiled_objects(build_dir: Path) -> int:
    """Object files under ``build_dir``, outside CMake's own compiler checks."""
    return sum(1 for p in build_dir.rglob("*.o") if not any(part.startswith(_SCRATCH) for part in p.parts))

"""The toolchain preflight: a one-kernel CUDA torch extension, built, run and audited in seconds.

A cell with ``vllm = "toolchain:cuda"`` has no vLLM: its source stage lays out the probe
(``data/toolchain``: one kernel, y = x + 1, behind a torch extension), its build stage
compiles it with torch's own extension builder against the cell's torch with the cell's
``TORCH_CUDA_ARCH_LIST``, and its verify stage runs the kernel on the GPU and audits the
``.so``. So before a multi-hour vLLM build, a user learns whether this compiler, this
torch and this arch list make code this GPU runs: ``12.0`` on an H200 is NO_KERNEL_IMAGE at
run time, and the audit shows why (SASS sm_120 only, no PTX).
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext

FILES = ("probe.cpp", "probe_kernel.cu", "build_probe.py", "run_probe.py")
BUILD_DIR = "build"
LIBRARY = "vllm_matrix_probe.so"  # what torch's builder makes of the extension named vllm_matrix_probe


def data_dir() -> Path:
    """The probe's sources, shipped in the package."""
    return Path(str(resources.files("vllm_matrix") / "data" / "toolchain"))


def lay_out(ctx: StageContext) -> Path:
    """Copy the probe into a tree of this build key (its build directory lives inside)."""
    tree = ctx.work.worktrees / f"toolchain-{ctx.venv.name}"
    tree.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(data_dir() / name, tree / name)
    ensure_ninja(ctx)
    ctx.note(f"[toolchain probe laid out in {tree}]")
    return tree


def ensure_ninja(ctx: StageContext) -> None:
    """torch's extension builder needs ninja: take one on the path, else install it from the index."""
    if shutil.which("ninja", path=ctx.tool_path):
        return
    uv.pip_install(
        ctx, ["ninja"], what="installing ninja for torch's extension builder", with_torch_index=False
    )


def build(ctx: StageContext, tree: Path, env: dict[str, str]) -> None:
    """Compile the probe against the cell's torch (the log shows torch's and nvcc's own lines)."""
    argv = [str(ctx.python), str(tree / "build_probe.py"), str(tree), str(tree / BUILD_DIR)]
    ctx.check(argv, env={**env, "PATH": ctx.tool_path}, cwd=tree, what="building the toolchain probe")


def run(ctx: StageContext, tree: Path) -> None:
    """Run the probe's kernel on the GPU."""
    argv = [str(ctx.python), str(tree / "run_probe.py"), str(tree / BUILD_DIR)]
    ctx.check(argv, cwd=tree, what="running the toolchain probe's kernel")

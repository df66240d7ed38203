"""prepare: make the source tree build against the cell's torch, then install its build requirements.

vLLM's documented flow for an existing torch: run ``use_existing_torch.py``
(it drops the torch pins from the requirement files), install the build
requirements, then build with ``--no-build-isolation``. Newer refs' script
takes ``--prefix`` (drop only lines starting ``torch=``, ``torchvision=``,
``torchaudio=``); older ones drop every line that mentions torch and take no
arguments at all, so running ``--help`` would already rewrite the files.
Support is therefore detected by reading the script, never by running it.

After the install, torch must still be the cell's torch (TORCH_OVERRIDDEN).
"""

from __future__ import annotations

import re
from pathlib import Path

from vllm_matrix.buildenv import target_device
from vllm_matrix.stages import torch, uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import PrepareFacts

SCRIPT = "use_existing_torch.py"
# Build requirement files by target device, newest layout first.
BUILD_REQUIREMENTS = {
    "cuda": ("requirements/build/cuda.txt", "requirements/build.txt", "requirements-build.txt"),
    "rocm": ("requirements/build/rocm.txt", "requirements/rocm-build.txt"),
    "cpu": (
        "requirements/build/cpu.txt",
        "requirements/cpu-build.txt",
        "requirements/build.txt",
        "requirements-build.txt",
    ),
}
_PREFIX_OPTION = re.compile(r"""["']--prefix["']""")


def supports_prefix(script_text: str) -> bool:
    """Whether a ``use_existing_torch.py`` declares a ``--prefix`` option."""
    return bool(_PREFIX_OPTION.search(script_text))


def build_requirements(tree: Path, device: str) -> Path | None:
    """The ref's build requirements file for ``device`` (``cuda`` or ``cpu``), newest layout first."""
    for name in BUILD_REQUIREMENTS.get(device, BUILD_REQUIREMENTS["cuda"]):
        if (tree / name).is_file():
            return tree / name
    return None


def run(ctx: StageContext) -> None:
    """Run use_existing_torch.py, install the build requirements, check torch; record what was done."""
    tree = Path(str(ctx.state.source_dir))
    script = use_existing_torch(ctx, tree)
    requirements = build_requirements(tree, target_device(ctx.cell.cuda))
    if requirements is None:
        installed = "none found: nothing installed"
        ctx.note("[no build requirements file in the tree; nothing installed]")
    else:
        installed = str(requirements.relative_to(tree))
        uv.pip_install(ctx, ["-r", str(requirements)], what=f"installing {installed}")
    ctx.state.prepare = PrepareFacts(script, installed)
    torch.ensure_unchanged(ctx)


def use_existing_torch(ctx: StageContext, tree: Path) -> str:
    """Run the ref's script with the venv's python (``--prefix`` where supported); say what ran."""
    script = tree / SCRIPT
    if not script.is_file():
        ctx.note(f"[{SCRIPT} not in this ref: the requirement files keep their torch pins]")
        return "absent"
    prefix = supports_prefix(script.read_text(encoding="utf-8", errors="replace"))
    argv = [str(ctx.python), SCRIPT, *(["--prefix"] if prefix else [])]
    ctx.check(argv, cwd=tree, what=SCRIPT)
    return "--prefix" if prefix else "legacy (drops every line mentioning torch)"

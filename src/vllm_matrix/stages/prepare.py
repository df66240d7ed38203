"""prepare: make the source tree build against the cell's torch, then install its build requirements.

vLLM's documented flow for an existing torch: run ``use_existing_torch.py``
(it drops the torch pins from the requirement files), install the build
requirements, then build with ``--no-build-isolation``. Newer refs' script
takes ``--prefix`` (drop only lines starting ``torch=``, ``torchvision=``,
``torchaudio=``); older ones drop every line that mentions torch and take no
arguments at all, so running ``--help`` would already rewrite the files.
Support is therefore detected by reading the script, never by running it.
The script sits at the tree root up to vLLM 0.30 and in ``tools/`` from 0.32;
it globs ``requirements/**`` from its working directory, so it always runs
from the tree root. The requirement files are read before and after it, and
every line it removed is recorded.

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
# Where refs keep the script, oldest layout first.
SCRIPT_PLACES = (SCRIPT, f"tools/{SCRIPT}")
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


def find_script(tree: Path) -> Path | None:
    """The ref's use_existing_torch.py, wherever it keeps it."""
    return next((tree / place for place in SCRIPT_PLACES if (tree / place).is_file()), None)


def requirement_files(tree: Path) -> dict[str, list[str]]:
    """The lines of each file use_existing_torch.py may rewrite: requirements/**/*.txt|.in, pyproject.toml."""
    paths = [*(tree / "requirements").rglob("*.txt"), *(tree / "requirements").rglob("*.in")]
    paths += [tree / "pyproject.toml"] if (tree / "pyproject.toml").is_file() else []
    return {
        str(p.relative_to(tree)): p.read_text(encoding="utf-8", errors="replace").splitlines()
        for p in sorted(paths)
        if p.is_file()
    }


def removed_lines(before: dict[str, list[str]], after: dict[str, list[str]]) -> tuple[str, ...]:
    """``file: line`` for each line present before and gone after (a deleted file loses every line)."""
    removed = []
    for name, lines in before.items():
        left = list(after.get(name, []))
        for line in lines:
            if line in left:
                left.remove(line)
            elif line.strip():
                removed.append(f"{name}: {line.strip()}")
    return tuple(removed)


def run(ctx: StageContext) -> None:
    """Run use_existing_torch.py, install the build requirements, check torch; record what was done."""
    tree = Path(str(ctx.state.source_dir))
    before = requirement_files(tree)
    script = use_existing_torch(ctx, tree)
    removed = removed_lines(before, requirement_files(tree))
    ctx.note(f"[{SCRIPT} removed {len(removed)} line(s)]")
    requirements = build_requirements(tree, target_device(ctx.cell.cuda))
    if requirements is None:
        installed = "none found: nothing installed"
        ctx.note("[no build requirements file in the tree; nothing installed]")
    else:
        installed = str(requirements.relative_to(tree))
        uv.pip_install(ctx, ["-r", str(requirements)], what=f"installing {installed}")
    found = find_script(tree)
    where = str(found.relative_to(tree)) if found else None
    ctx.state.prepare = PrepareFacts(script, installed, where, removed)
    torch.ensure_unchanged(ctx)


def use_existing_torch(ctx: StageContext, tree: Path) -> str:
    """Run the ref's script from the tree root with the venv's python (``--prefix`` where supported)."""
    script = find_script(tree)
    if script is None:
        places = " or ".join(SCRIPT_PLACES)
        ctx.note(f"[{SCRIPT} not in this ref ({places}): the requirement files keep their torch pins]")
        return "absent"
    prefix = supports_prefix(script.read_text(encoding="utf-8", errors="replace"))
    where = str(script.relative_to(tree))
    argv = [str(ctx.python), where, *(["--prefix"] if prefix else [])]
    ctx.check(argv, cwd=tree, what=where)
    return "--prefix" if prefix else "legacy (drops every line mentioning torch)"

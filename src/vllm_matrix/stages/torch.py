"""torch: install exactly the resolved torch (and its pinned companions), and guard it afterwards.

``ensure_unchanged`` is the TORCH_OVERRIDDEN check: every later stage that
installs anything calls it, so a requirement that swaps torch out fails at
the stage that did it, with before and after named.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext

TORCH_OVERRIDDEN = "TORCH_OVERRIDDEN"


def run(ctx: StageContext) -> None:
    """Install the resolved torch requirements from the cell's torch index, then record the version.

    An existing torch is not installed: the venv already sees it (the venv stage's ``.pth``);
    this stage checks that it does, and records its version.
    """
    assert ctx.state.torch is not None  # resolve ran
    if ctx.state.torch.kind == "existing":
        seen = visible_version(ctx, "torch")
        if seen != ctx.state.torch.version:
            raise ctx.fail(f"the venv sees torch {seen}, not the existing torch {ctx.state.torch.version}")
        ctx.note(f"[existing torch {seen} from {ctx.state.torch.interpreter}: nothing installed]")
        ctx.state.torch_version = seen
        return
    requirements = list(ctx.state.torch.requirements)
    uv.pip_install(ctx, requirements, what=f"installing {' '.join(requirements)}", overrides=False)
    installed = installed_version(ctx.venv, "torch")
    wanted = f"=={ctx.state.torch.version}"  # the requirement may be a URL (a nightly the index hides)
    if installed is None or not _satisfies(installed, wanted):
        raise ctx.fail(
            f"uv installed torch {installed} but the cell asked for torch{wanted}",
            evidence=[f"torch{wanted} requested, {installed} installed"],
        )
    ctx.state.torch_version = installed


def _satisfies(version: str, specifier: str) -> bool:
    try:
        return SpecifierSet(specifier).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def site_packages(venv: Path) -> list[Path]:
    """The venv's site-packages directories."""
    return sorted(venv.glob("lib/python*/site-packages"))


def installed_version(venv: Path, dist: str, also: Sequence[str] = ()) -> str | None:
    """The version of ``dist`` the venv's Python imports: its site-packages first, then ``also``
    (an existing torch's directories). Read from metadata; no interpreter started."""
    paths = [str(p) for p in site_packages(venv)] + list(also)
    for found in importlib.metadata.distributions(name=dist, path=paths):
        return found.version
    return None


def visible_version(ctx: StageContext, dist: str) -> str | None:
    """``installed_version`` for this cell's venv, including the existing torch's site it is given."""
    return installed_version(ctx.venv, dist, ctx.state.torch.site if ctx.state.torch else ())


def ensure_unchanged(ctx: StageContext) -> None:
    """Fail the stage with TORCH_OVERRIDDEN if torch is no longer the version the torch stage installed."""
    before = ctx.state.torch_version
    if before is None:
        return
    after = visible_version(ctx, "torch")
    if after != before:
        line = f"torch {before} was replaced by {after or 'nothing (uninstalled)'} during {ctx.stage}"
        ctx.note(f"[vllm-matrix] {line}")
        raise ctx.fail(line, klass=TORCH_OVERRIDDEN, evidence=[line])

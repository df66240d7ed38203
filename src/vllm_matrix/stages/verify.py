"""verify: torch was not replaced, ``import vllm`` and its compiled extensions load, the arch audit.

Records ``torch_git_version`` (the nightly commit bisection needs), the vLLM
version, each extension's load result and the arch audit of the installed
.so files against the cell's GPU (``archaudit.fatbin.audit_path``).
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from vllm_matrix.archaudit import fatbin
from vllm_matrix.errors import MatrixError
from vllm_matrix.serial import SerialError, from_data
from vllm_matrix.stages import toolchain, torch
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.state import ArchAudit, ExtensionLoad

NOT_RUNNABLE = "not-runnable"


def probe_script() -> Path:
    """The standalone script run inside the cell venv."""
    with resources.as_file(resources.files("vllm_matrix") / "data" / "probe_vllm.py") as path:
        return Path(path)


def run(ctx: StageContext) -> None:
    """Check torch, import vLLM and its extensions, audit the archs; record all of it.

    The toolchain probe has no vLLM: its kernel is run on the GPU, and its ``.so`` audited.
    """
    torch.ensure_unchanged(ctx)
    if ctx.cell.source.kind == "toolchain":
        tree = Path(str(ctx.state.source_dir))
        ctx.state.arch_audit = arch_audit(ctx, str(tree / toolchain.BUILD_DIR / toolchain.LIBRARY))
        toolchain.run(ctx, tree)
        return
    report = probe(ctx)
    ctx.state.arch_audit = arch_audit(ctx, report.get("vllm_dir"))
    failed = [e for e in ctx.state.extensions if not e.ok]
    if report.get("stage") != "done":
        raise ctx.fail(f"{report.get('stage', 'import')} failed: {report.get('error', 'no report')}")
    if failed:
        names = ", ".join(e.module or e.file for e in failed)
        raise ctx.fail(f"compiled extensions failed to load: {names}")


def probe(ctx: StageContext) -> dict[str, Any]:
    """Run the probe in the cell venv and record what it found."""
    out = ctx.cell_dir / "verify.json"
    out.unlink(missing_ok=True)
    result = ctx.run([str(ctx.python), str(probe_script()), str(out)], cwd=ctx.cell_dir)
    try:
        report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        extensions = from_data(report.get("extensions", []), tuple[ExtensionLoad, ...])
    except (OSError, ValueError, SerialError):
        raise ctx.fail(f"the import probe died ({result.describe()})") from None
    ctx.state.torch_git_version = report.get("torch_git_version")
    ctx.state.torch_cuda = report.get("torch_cuda")
    ctx.state.vllm_version = report.get("vllm_version")
    ctx.state.extensions = extensions
    return report


def arch_audit(ctx: StageContext, vllm_dir: str | None) -> ArchAudit:
    """The SASS/PTX each extension carries and whether the cell's GPU can run it."""
    if ctx.cell.gpu == "cpu":
        return ArchAudit(skipped="CPU cell: no GPU code to audit")
    if not vllm_dir:
        return ArchAudit(skipped="vllm did not import, so its package directory is unknown")
    try:
        audits = fatbin.audit_path(Path(vllm_dir), ctx.cell.gpu)
    except MatrixError as exc:
        return ArchAudit(skipped=f"arch audit failed: {exc}")
    entries = tuple(a.to_dict() for a in audits)
    # Recorded, not judged: FA3 (sm_90a only) is not runnable on Blackwell by design.
    verdicts = dict(Counter(a.verdict for a in audits))
    not_runnable = tuple(str(a.path) for a in audits if a.verdict == NOT_RUNNABLE)
    return ArchAudit(ctx.cell.gpu, verdicts, not_runnable, entries)

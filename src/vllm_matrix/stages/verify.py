"""verify: torch was not replaced, ``import vllm`` and its compiled extensions load, the arch audit.

Records ``torch_git_version`` (the nightly commit bisection needs), the vLLM
version, each extension's load result and the arch audit of the built .so
files against the cell's GPU (H2's ``fatbin.audit_path``).
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from vllm_matrix.errors import MatrixError
from vllm_matrix.stages import torch
from vllm_matrix.stages.base import StageContext, StageFailed

STAGE = "verify"


def probe_script() -> Path:
    """The standalone script run inside the cell venv."""
    with resources.as_file(resources.files("vllm_matrix") / "data" / "probe_vllm.py") as path:
        return Path(path)


def run(ctx: StageContext) -> None:
    """Check torch, import vLLM and its extensions, audit the archs; record all of it."""
    torch.ensure_unchanged(ctx, STAGE)
    report = probe(ctx)
    ctx.record["arch_audit"] = arch_audit(ctx, report.get("vllm_dir"))
    failed = [e for e in report.get("extensions", []) if not e["ok"]]
    if report.get("stage") != "done":
        error = report.get("error", "no report")
        raise StageFailed(STAGE, f"{report.get('stage', 'import')} failed: {error}", log=ctx.log_path(STAGE))
    if failed:
        names = ", ".join(e["module"] or e["file"] for e in failed)
        raise StageFailed(STAGE, f"compiled extensions failed to load: {names}", log=ctx.log_path(STAGE))


def probe(ctx: StageContext) -> dict[str, Any]:
    """Run the probe in the cell venv and record what it found."""
    out = ctx.cell_dir / "verify.json"
    out.unlink(missing_ok=True)
    result = ctx.run(STAGE, [str(ctx.python), str(probe_script()), str(out)], cwd=ctx.cell_dir)
    try:
        report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise StageFailed(STAGE, f"the import probe died ({result.describe()})", log=result.log) from None
    for key in ("torch_git_version", "torch_cuda", "vllm_version", "extensions"):
        ctx.record[key] = report.get(key)
    return report


def arch_audit(ctx: StageContext, vllm_dir: str | None) -> dict[str, Any]:
    """The SASS/PTX each extension carries and whether the cell's GPU can run it."""
    if ctx.cell.gpu == "cpu":
        return {"skipped": "CPU cell: no GPU code to audit", "extensions": []}
    if not vllm_dir:
        return {"skipped": "vllm did not import, so its package directory is unknown", "extensions": []}
    try:
        from vllm_matrix.archaudit import fatbin

        audits = fatbin.audit_path(Path(vllm_dir), ctx.cell.gpu)
    except ImportError as exc:
        return {"skipped": f"arch audit unavailable ({exc})", "extensions": []}
    except MatrixError as exc:
        return {"skipped": f"arch audit failed: {exc}", "extensions": []}
    entries = [a.to_dict() for a in audits]
    # Recorded, not judged: FA3 (sm_90a only) is not runnable on Blackwell by design.
    verdicts = dict(Counter(str(e.get("verdict")) for e in entries))
    not_runnable = [str(e.get("path")) for e in entries if e.get("verdict") == "not-runnable"]
    return {"gpu": ctx.cell.gpu, "verdicts": verdicts, "not_runnable": not_runnable, "extensions": entries}

"""``vllm-matrix audit PATH_OR_VENV --gpu sm_120``: which extensions can run on a GPU.

Exit code 0 whatever the verdicts (vLLM ships kernels for other GPUs on
purpose: FA3 and FlashMLA are ``not-runnable`` on sm_120 by design, so the
verdicts are data for the report, not a failure), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from vllm_matrix import texttable
from vllm_matrix.archaudit import fatbin, installed
from vllm_matrix.archaudit import rules as audit
from vllm_matrix.errors import EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "audit",
        help="list the SASS / PTX archs of compiled extensions and whether a GPU can run them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH_OR_VENV", help="a .so file, a directory, or a venv")
    parser.add_argument("--gpu", required=True, help="target GPU: sm_120, 12.0, 120, ...")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = Path(args.path)
    results = fatbin.audit_path(root, args.gpu)
    if args.json:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], indent=1) + "\n")
    else:
        sys.stdout.write(table(results, root, audit.parse_gpu(args.gpu).sass()))
    return EXIT_OK


def table(results: Sequence[fatbin.ExtensionAudit], root: Path, gpu: str) -> str:
    """One row per file: path (relative to ``root``), SASS, PTX, verdict; then a count line."""
    header = ("extension", "sass", "ptx", f"on {gpu}")
    rows = [header] + [
        (_rel(r.path, root), " ".join(r.sass) or "-", " ".join(r.ptx) or "-", r.verdict) for r in results
    ]
    lines = texttable.render(rows)
    counts = {v: sum(r.verdict == v for r in results) for v in audit.VERDICTS}
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no compiled files found")
    return "\n".join(lines) + "\n"


def _rel(path: Path, root: Path) -> str:
    if root.is_file():
        return path.name
    try:
        return str(path.relative_to(installed.search_root(root)))
    except ValueError:
        return str(path)

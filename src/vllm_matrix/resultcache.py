"""The result cache: a cell's verdict, keyed by every resolved input that decides it.

The key (``cache_key``) hashes what the cell resolved (the exact torch wheel, the exact
vLLM: commit, sdist hash or wheel), how it would be built (arch list, CUDA variant,
compiler, the build variables; never ``MAX_JOBS``), what it is tested with (the payload's
files, the classifier's catalogue, the tool's version), where (the GPUs and driver; for a
CPU cell the CPU model and its ISA, since bf16 crashed on one CPU and not another) and how
(the runtime axes). A cell whose key has a verdict already is not run again: its result
repeats that verdict, says so (``cached_from``), and points at the run and cell that
decided it. Yesterday's ``nightly:latest`` is today's ``latest~1``: same wheel, same key.

Only verdicts are cached (pass, fail); a skip, an error or an interrupt decides nothing. A
key whose recorded verdicts disagree is flaky: it is never served from the cache, it runs
again, and its result says ``flaky``.

Entries live in the work dir, one small JSON file per key (``verdicts/<key>.json``),
written atomically; an unreadable entry is ignored (the cell runs).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from vllm_matrix import __version__, fileio
from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.results import CachedFrom, CellResult, StageRecord, utc_now
from vllm_matrix.stages.resolve import BUILD_ENV_VARS
from vllm_matrix.stages.state import CellState

VERDICTS = ("pass", "fail")
BUILD_FACTS = ("build.cc", "build.nvcc", "build.env")  # in the key of cells that build from source
KEEP = 20  # verdicts remembered per key
# ISA flags of /proc/cpuinfo that change what vLLM's CPU build runs.
ISA = re.compile(r"^(avx\w*|amx\w*|fma|f16c|sse4_\d|avx512\w*|bf16|vnni)$")
# The tool's own data a verdict depends on, besides the payload: the catalogue, the probe, the overrides.
TOOL_DATA = tuple(
    Path(str(resources.files("vllm_matrix") / part))
    for part in ("classify/catalogue.toml", "data/probe_vllm.py", "data/overrides.txt")
)


def cache_key(parts: Mapping[str, str]) -> str:
    """A stable hash of the key's parts."""
    text = "\n".join(f"{k}={v}" for k, v in sorted(parts.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def key_parts(cell: Cell, state: CellState, machine: Mapping[str, str]) -> dict[str, str]:
    """What decides this cell's verdict, once resolve has run (``machine``: see ``MachineFacts``)."""
    torch = state.torch
    parts = {
        "torch": torch.identity() if torch else "",
        "vllm": f"{state.vllm.identity()} {state.vllm.version or ''}" if state.vllm else "",
        "python": cell.python,
        "cuda": cell.cuda,
        "gpu": cell.gpu,
        "runtime": f"fa={cell.flash_attn} dtype={cell.dtype} eager={cell.enforce_eager} "
        f"suites={','.join(cell.suites)}",
    }
    if cell.source.builds:
        parts["arch"] = cell.arch
    where = "cpu" if cell.gpu == "cpu" else "gpus"
    wanted = [
        where,
        "payload",
        "tool",
        *(["build.cc", "build.nvcc", "build.env"] if cell.source.builds else []),
    ]
    return parts | {f"machine.{k}": machine.get(k, "") for k in wanted}


def machine_facts(hardware: Hardware, environ: Mapping[str, str], payload: Path) -> dict[str, str]:
    """What of this machine and this tool a verdict depends on; computed once per run."""
    return {
        "gpus": ", ".join(f"{g.name} ({g.compute_cap}) driver {g.driver}" for g in hardware.gpus),
        "cpu": cpu_identity(),
        "payload": tree_hash([payload, *TOOL_DATA]),
        "tool": __version__,
        "build.cc": _first_line([environ.get("CC") or "cc", "--version"], environ),
        "build.nvcc": hardware.nvcc_version or "",
        "build.env": " ".join(f"{k}={environ[k]}" for k in sorted(BUILD_ENV_VARS) if environ.get(k)),
    }


def cpu_identity(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model and the ISA extensions vLLM's CPU kernels choose between (AVX2, AVX-512, AMX, ...)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
    isa = sorted(f for f in (flags.group(1).split() if flags else []) if ISA.match(f))
    return f"{model.group(1).strip() if model else platform.machine()} [{' '.join(isa)}]"


def tree_hash(roots: Iterable[Path]) -> str:
    """A hash of every file's relative path and bytes under ``roots`` (caches and bytecode left out)."""
    digest = hashlib.sha256()
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(f"{path.name}:{path.relative_to(root.parent)}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _first_line(argv: list[str], environ: Mapping[str, str]) -> str:
    exe = shutil.which(argv[0], path=environ.get("PATH"))
    if exe is None:
        return f"{argv[0]}: not found"
    try:
        out = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return f"{argv[0]}: did not answer"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""


@dataclass(frozen=True)
class Verdict:
    """One recorded verdict: who decided it, when, and the whole result they wrote."""

    run: str
    cell: str
    outcome: str
    at: str
    cell_dir: str
    result: dict[str, Any]


@dataclass(frozen=True)
class ResultCache:
    """The verdicts of a work dir, by cache key."""

    root: Path

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def verdicts(self, key: str) -> list[Verdict]:
        """The verdicts recorded for ``key``, oldest first (none when absent or unreadable)."""
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
            return [Verdict(**entry) for entry in data["verdicts"]]
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def decided(self, key: str) -> Verdict | None:
        """The verdict to repeat for ``key``: the latest, if every recorded verdict agrees."""
        found = self.verdicts(key)
        return found[-1] if found and not flaky(found) else None

    def record(self, key: str, result: CellResult, cell_dir: Path) -> list[Verdict]:
        """Remember a finished cell's verdict (pass or fail); return the key's verdicts."""
        found = self.verdicts(key)
        if result.outcome not in VERDICTS or result.cached_from is not None:
            return found
        found = [*found, Verdict(result.run, result.id, result.outcome, utc_now(), str(cell_dir),
                                 result.to_dict())][-KEEP:]  # fmt: skip
        fileio.write_json(self.path(key), {"key": key, "verdicts": [v.__dict__ for v in found]})
        return found


def flaky(verdicts: Iterable[Verdict]) -> bool:
    """Whether the same inputs gave different verdicts."""
    return len({v.outcome for v in verdicts}) > 1


def repeat(verdict: Verdict, fresh: CellResult, state: CellState, resolve: StageRecord) -> CellResult:
    """This run's result for a cell whose inputs ``verdict`` already decided.

    The verdict, its class and evidence are the deciding result's; what this run resolved
    (torch, vLLM, the key) is this run's; later stages are marked ``cached`` (a failed one
    keeps its ``fail``, so the JUnit still fails), and logs point at the deciding cell's.
    """
    old = CellResult.from_dict(verdict.result)
    facts = replace(old.facts, torch=state.torch, vllm=state.vllm, build_key=state.build_key,
                    venv=state.venv, cache_key=state.cache_key)  # fmt: skip
    stages = [resolve] + [_cached(s, verdict) for s in old.stages if s.name != "resolve"]
    log = str(Path(verdict.cell_dir) / old.log) if old.log else None
    return replace(old, id=fresh.id, run=fresh.run, cell=fresh.cell, experimental=fresh.experimental,
                   stages=stages, facts=facts, log=log, cached_from=CachedFrom(verdict.run, verdict.cell),
                   started_at=fresh.started_at)  # fmt: skip


def _cached(record: StageRecord, verdict: Verdict) -> StageRecord:
    if record.status == "fail":
        return replace(record, log=None, message=f"{record.message} (in run {verdict.run})")
    return StageRecord(
        record.name, "cached", 0.0, None, f"{record.status} in run {verdict.run}, cell {verdict.cell}"
    )

"""What a cell's page shows, gathered from its result, its JUnit and its logs.

The stage timeline, the resolved versions, the arch audit, failing tests, the
decisive line in context, the log tail and the suites' figures. Logs are read
once, streaming (a build log can be large); a log the result names but that is
not there is said on the page, not guessed at.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.report.junitread import FIGURES, FailingTest
from vllm_matrix.report.model import CellView
from vllm_matrix.results import CellResult
from vllm_matrix.stages.state import CellState

CONTEXT_LINES = 6
TAIL_LINES = 60
PYTORCH_COMMIT = "https://github.com/pytorch/pytorch/commit/"
VLLM_COMMIT = "https://github.com/vllm-project/vllm/commit/"


@dataclass(frozen=True)
class StageBar:
    """One stage on the timeline."""

    name: str
    status: str
    duration_s: float
    share: float  # of the longest stage, 0..1, for the bar's width
    message: str | None


@dataclass(frozen=True)
class LogLine:
    """A numbered log line; ``decisive`` marks the one that explains the outcome."""

    number: int
    text: str
    decisive: bool = False


@dataclass
class LogExcerpt:
    """The decisive line in context and the tail of one log, or why there is none."""

    name: str
    context: list[LogLine] = field(default_factory=list)
    tail: list[LogLine] = field(default_factory=list)
    missing: str | None = None


@dataclass
class CellPage:
    """Everything the cell page template needs beyond the view itself."""

    timeline: list[StageBar]
    versions: list[tuple[str, str, str | None]]  # label, value, link
    audit: dict[str, Any] | None
    failing: list[FailingTest]
    excerpt: LogExcerpt | None
    logs: list[tuple[str, Path]]  # name in the site, source file
    figures: list[tuple[str, str]]
    notes: list[str]


def page(view: CellView) -> CellPage:
    """The page data of one cell (empty sections for a cell without a readable result)."""
    result = view.result
    cell_dir = view.entry.cell_dir
    logs = _logs(result, cell_dir) if result and cell_dir else []
    return CellPage(
        timeline=timeline(result) if result else [],
        versions=versions(result) if result else [],
        audit=_audit(result.facts) if result else None,
        failing=list(view.entry.junit.failing) if view.entry.junit else [],
        excerpt=_excerpt(result, cell_dir) if result and cell_dir else None,
        logs=logs,
        figures=[(label, view.figures[name]) for name, label in FIGURES if name in view.figures],
        notes=list(view.entry.notes),
    )


def timeline(result: CellResult) -> list[StageBar]:
    """Every stage with its duration; reused stages (a shared build) keep their status."""
    longest = max((s.duration_s for s in result.stages), default=0.0) or 1.0
    return [
        StageBar(s.name, s.status, s.duration_s, s.duration_s / longest, s.message) for s in result.stages
    ]


def versions(result: CellResult) -> list[tuple[str, str, str | None]]:
    """What the cell resolved to and found installed, as (label, value, link)."""
    facts = result.facts
    rows: list[tuple[str, str, str | None]] = [("torch spec", str(result.cell.get("torch", "")), None)]
    if facts.torch:
        rows.append(("torch requirement", " ".join(facts.torch.requirements), None))
        wheel = (facts.torch.nightly or {}).get("torch")
        if isinstance(wheel, dict) and wheel.get("filename"):
            rows.append(("torch wheel", str(wheel["filename"]), None))
    rows += _pairs([("torch version", facts.torch_version), ("torch CUDA", facts.torch_cuda)])
    if facts.torch_git_version:
        rows.append(("torch git_version", facts.torch_git_version, PYTORCH_COMMIT + facts.torch_git_version))
    rows += _vllm_rows(facts)
    rows += _pairs([("build key", facts.build_key), ("flash-attention via", facts.fa_mechanism),
                    ("harness", facts.harness_version)])  # fmt: skip
    if facts.reused_build:
        rows.append(
            ("build reused from", f"cell {facts.reused_build.cell} of run {facts.reused_build.run}", None)
        )
    if facts.build_env:
        rows += [(f"build env {k}", v, None) for k, v in sorted(facts.build_env.env.items())]
    rows += [
        (f"suite dependency {k}", v or "absent", None) for k, v in sorted(facts.suite_dependencies.items())
    ]
    return rows


def _pairs(items: list[tuple[str, str | None]]) -> list[tuple[str, str, str | None]]:
    return [(label, value, None) for label, value in items if value]


def _vllm_rows(facts: CellState) -> list[tuple[str, str, str | None]]:
    vllm = facts.vllm
    rows: list[tuple[str, str, str | None]] = []
    if vllm is not None:
        rows += _pairs([("vLLM source", vllm.kind), ("vLLM requirement", vllm.requirement),
                        ("vLLM ref", vllm.ref), ("vLLM path", vllm.path)])  # fmt: skip
        if vllm.commit:
            rows.append(
                ("vLLM commit", vllm.commit, VLLM_COMMIT + vllm.commit if vllm.kind == "git" else None)
            )
    return rows + _pairs([("vLLM version", facts.vllm_version)])


def _audit(facts: CellState) -> dict[str, Any] | None:
    audit = facts.arch_audit
    if audit is None:
        return None
    extensions = [dict(e) for e in audit.extensions]
    return {"gpu": audit.gpu, "verdicts": audit.verdicts, "skipped": audit.skipped,
            "not_runnable": list(audit.not_runnable), "extensions": extensions}  # fmt: skip


def _logs(result: CellResult, cell_dir: Path) -> list[tuple[str, Path]]:
    """The cell's logs to copy into the site: its logs/ dir, plus a shared failed build's log."""
    try:
        found = sorted(Path(e.path) for e in os.scandir(cell_dir / "logs") if e.name.endswith(".log"))
    except OSError:
        found = []
    named = [Path(result.log)] if result.log and Path(result.log).is_absolute() else []
    return [(p.name, p) for p in [*found, *(p for p in named if p.is_file())]]


def _excerpt(result: CellResult, cell_dir: Path) -> LogExcerpt | None:
    """The decisive line in context, from the log that explains the outcome (else the last stage's)."""
    name = result.log or next((s.log for s in reversed(result.stages) if s.log), None)
    if name is None:
        return None
    path = Path(name) if Path(name).is_absolute() else cell_dir / name
    excerpt = LogExcerpt(name)
    if not path.is_file():
        excerpt.missing = f"{name} is not in the inputs (it was not collected with the result)"
        return excerpt
    target = result.evidence_line
    if target is None and result.evidence:
        target = _find(path, result.evidence[0])
    excerpt.context, excerpt.tail = read_log(path, target)
    return excerpt


def _find(path: Path, evidence: str) -> int | None:
    needle = evidence.strip()
    for number, line in _lines(path):
        if needle and needle in line:
            return number
    return None


def read_log(path: Path, target: int | None) -> tuple[list[LogLine], list[LogLine]]:
    """Lines around ``target`` (1-based) and the last TAIL_LINES lines, in one pass."""
    context: list[LogLine] = []
    tail: deque[LogLine] = deque(maxlen=TAIL_LINES)
    for number, text in _lines(path):
        line = LogLine(number, text, number == target)
        if target is not None and abs(number - target) <= CONTEXT_LINES:
            context.append(line)
        tail.append(line)
    return context, list(tail)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            yield number, text.rstrip("\n")

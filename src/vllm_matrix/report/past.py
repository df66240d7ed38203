"""Where history comes from: a previous report (``--previous``), else the earlier runs in the reports dir.

A previous report's ``report.json`` carries the observations of the runs before
it, so the newest earlier run that has a site is read from its report.json and
only the runs after it are read from their results.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from vllm_matrix.report import inputs, model
from vllm_matrix.report.history import MAX_RUNS, Observation, observe, read_report
from vllm_matrix.results import RUN_FILE, RunStore

SITE = "site"
REPORT_JSON = "report.json"


def from_previous(path: Path, problems: list[str]) -> list[Observation]:
    """The observations of a previous report: a site directory or its report.json."""
    report = path / REPORT_JSON if path.is_dir() else path
    try:
        return read_report(report)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problems.append(f"--previous {report}: cannot be read ({why}); the report has no history")
        return []


def from_reports_dir(reports: Path, current: Iterable[Path], before: str) -> list[Observation]:
    """Observations of the runs under ``reports`` that started before ``before`` (the last MAX_RUNS)."""
    skip = {p.resolve() for p in current}
    runs = [p for p in reports.glob("*") if (p / RUN_FILE).is_file() and p.resolve() not in skip]
    started = {p: str(RunStore(p).read_meta().get("started_at", "")) for p in runs}
    earlier = sorted(
        (p for p in runs if not before or started[p] < before), key=lambda p: (started[p], p.name)
    )
    pending: list[Path] = []
    found: list[Observation] = []
    for run_dir in reversed(earlier[-MAX_RUNS:]):
        report = run_dir / SITE / REPORT_JSON
        if report.is_file():
            found = from_previous(report, [])
            break
        pending.append(run_dir)
    return found + [o for run_dir in reversed(pending) for o in _observe_run(run_dir, started[run_dir])]


def _observe_run(run_dir: Path, started_at: str) -> list[Observation]:
    loaded = inputs.load([run_dir])
    return [observe(view, started_at) for view in model.views(loaded.entries)]

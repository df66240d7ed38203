"""History: what changed since earlier runs, what has been broken since when, what is flaky, trends.

Earlier runs come as observations (one per cell per run): from a previous
report's ``report.json`` (``--previous``, whose ``history`` carries the runs
before it, so one previous report is enough) or from the earlier runs in the
reports dir. Against them each current cell is marked "newly broken" or
"fixed" (against the cell's previous pass/fail verdict), a failing cell says
since when it has failed, as PyTorch HUD's "failed consecutively starting
with", and cells whose verdict flips on the same cache key are flaky.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vllm_matrix.report.model import CellView, column_order

MAX_RUNS = 30  # observations kept per report: the last 30 runs
VERDICTS = ("pass", "fail")  # the outcomes that say something about vLLM and torch
TOKENS = "decode_tok_s"


@dataclass(frozen=True)
class Observation:
    """One cell's verdict in one run, with what the trend and flakiness need."""

    run: str
    started_at: str
    cell: str
    verdict: str | None
    nightly: str | None
    column: str
    config: str
    cache_key: str | None
    tokens_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Observation:
        tokens = data.get("tokens_s")
        return cls(str(data["run"]), str(data.get("started_at", "")), str(data["cell"]), data.get("verdict"),
                   data.get("nightly"), str(data.get("column", "")), str(data.get("config", "")),
                   data.get("cache_key"), float(tokens) if tokens is not None else None)  # fmt: skip


def config_label(view: CellView) -> str:
    """The configuration a cell belongs to across nightlies: every axis but torch."""
    return " · ".join(v for k, v in view.axes.items() if k != "torch")


def observe(view: CellView, started_at: str) -> Observation:
    """The current run's observation of ``view``."""
    tokens = view.figures.get(TOKENS)
    try:
        value = float(tokens) if tokens is not None else None
    except ValueError:
        value = None
    return Observation(view.run, started_at, view.id, view.verdict, view.nightly, view.column,
                       config_label(view), view.cache_key, value)  # fmt: skip


def read_report(path: Path) -> list[Observation]:
    """The observations a previous report.json holds (its history, then its own cells)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema") != "vllm-matrix-report":
        raise ValueError("is not a vllm-matrix report.json")
    return [Observation.from_dict(o) for o in data.get("history", []) if isinstance(o, dict)]


def apply(
    cells: Sequence[CellView], past: Iterable[Observation], started: dict[str, str]
) -> list[Observation]:
    """Mark changes, streaks and flakiness on ``cells``; the history the new report keeps."""
    current_runs = {v.run for v in cells}
    earlier = sorted((o for o in past if o.run not in current_runs), key=lambda o: (o.started_at, o.run))
    now = [observe(v, started.get(v.run, "")) for v in cells]
    by_cell: dict[str, list[Observation]] = {}
    for obs in earlier:
        by_cell.setdefault(obs.cell, []).append(obs)
    for view in cells:
        _mark_change(view, [o for o in by_cell.get(view.id, []) if o.verdict in VERDICTS])
    _mark_flaky(cells, [*earlier, *now])
    _attach_trends(cells, [*earlier, *now])
    return _keep_recent([*earlier, *now])


def _mark_change(view: CellView, past: list[Observation]) -> None:
    if view.verdict not in VERDICTS or not past:
        return
    last = past[-1]
    view.previous = f"{last.verdict} in run {last.run}"
    if last.verdict != view.verdict:
        view.change = "newly broken" if view.verdict == "fail" else "fixed"
    if view.verdict == "fail":
        first = _streak_start(view, past)
        where = f"nightly {first.nightly}" if first.nightly else f"torch {first.column}"
        view.broken_since = f"broken since {where} (first seen in run {first.run})"


def _streak_start(view: CellView, past: list[Observation]) -> Observation:
    """The earliest run of the unbroken run of failures that ends now."""
    start = Observation(view.run, "", view.id, view.verdict, view.nightly, view.column, "", view.cache_key)
    for obs in reversed(past):
        if obs.verdict != "fail":
            break
        start = obs
    return start


def _mark_flaky(cells: Sequence[CellView], observations: list[Observation]) -> None:
    seen: dict[str, set[str]] = {}
    for obs in observations:
        if obs.cache_key and obs.verdict in VERDICTS:
            seen.setdefault(obs.cache_key, set()).add(obs.verdict)
    flaky = {key for key, verdicts in seen.items() if len(verdicts) > 1}
    for view in cells:
        view.flaky = view.cache_key in flaky


def trends(observations: Iterable[Observation]) -> dict[str, list[tuple[str, float]]]:
    """Decode tokens/s per configuration across torch columns (the latest run's figure per column)."""
    points: dict[str, dict[str, float]] = {}
    for obs in sorted(observations, key=lambda o: (o.started_at, o.run)):
        if obs.tokens_s is not None:
            points.setdefault(obs.config, {})[obs.column] = obs.tokens_s
    return {config: sorted(by_column.items(), key=lambda p: column_order(p[0]))
            for config, by_column in sorted(points.items())}  # fmt: skip


def _attach_trends(cells: Sequence[CellView], observations: list[Observation]) -> None:
    found = trends(observations)
    for view in cells:
        view.trend = found.get(config_label(view), [])


def _keep_recent(observations: list[Observation]) -> list[Observation]:
    runs = list(dict.fromkeys(o.run for o in observations))[-MAX_RUNS:]
    keep = set(runs)
    return [o for o in observations if o.run in keep]

"""Build the whole report into one directory: site, Markdown, JSON, merged JUnit and the image.

Everything is written into a staging directory beside ``out`` and swapped in at
the end, so a reader (GitHub Pages, a browser on ``file://``) never sees half a
report, and a failed build leaves the previous one whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vllm_matrix import __version__
from vllm_matrix.report import history, image, jsonreport, markdown, mergedjunit, model, site
from vllm_matrix.report.history import Observation
from vllm_matrix.report.inputs import Loaded
from vllm_matrix.report.model import CellView, Pivot

DOWNLOADS = ("report.md", "report.json", "junit.xml", "matrix.svg", "matrix.png")


@dataclass
class Report:
    """The built report: its cells, pivot and the Markdown (what the command prints)."""

    title: str
    cells: list[CellView]
    pivot: Pivot
    markdown: str
    json: dict[str, object]
    problems: list[str]


def title_for(loaded: Loaded) -> str:
    """``vLLM × torch compatibility: run R`` (or the runs merged)."""
    runs = sorted({e.run for e in loaded.entries if e.run})
    named = runs[0] if len(runs) == 1 else f"{len(runs)} runs" if runs else "no run"
    return f"vLLM × torch compatibility: {named}"


def assemble(
    loaded: Loaded, past: Sequence[Observation], problems: Sequence[str] = ()
) -> tuple[Report, list[Observation]]:
    """The report's model: views with history marks, the pivot, Markdown and JSON (no files)."""
    cells = model.views(loaded.entries)
    kept = history.apply(cells, past, loaded.started)
    pivot = model.pivot(cells)
    title = title_for(loaded)
    all_problems = [*loaded.problems, *problems]
    text = markdown.render(title, pivot, cells)
    data = jsonreport.render(title=title, generated_at=_now(), tool_version=__version__,
                             environments=loaded.environments, pivot=pivot, cells=cells,
                             problems=all_problems, history=kept)  # fmt: skip
    return Report(title, cells, pivot, text, data, all_problems), kept


def build(loaded: Loaded, past: Sequence[Observation], out: Path, problems: Sequence[str] = ()) -> Report:
    """Write the report under ``out`` (replacing what was there) and return it."""
    report, kept = assemble(loaded, past, problems)
    staging = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write_all(staging, report, loaded, kept)
        _swap(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _write_all(out: Path, report: Report, loaded: Loaded, kept: list[Observation]) -> None:
    (out / "report.md").write_text(report.markdown, encoding="utf-8")
    (out / "report.json").write_text(json.dumps(report.json, indent=1, default=str) + "\n", encoding="utf-8")
    mergedjunit.write(out / "junit.xml", report.cells)
    lay = image.layout(report.pivot, report.title, model.totals_line(report.cells))
    (out / "matrix.svg").write_text(image.svg(lay), encoding="utf-8")
    image.png(lay, out / "matrix.png")
    data = site.SiteData(report.title, str(report.json["generated_at"]), __version__, loaded.environments,
                         report.problems, history.trends(kept), DOWNLOADS)  # fmt: skip
    site.write(out, data, report.pivot, report.cells)


def _swap(staging: Path, out: Path) -> None:
    """Put ``staging`` in the place of ``out`` (two renames; the old one is removed after)."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

"""The static HTML site: the matrix page, a page per cell, the logs, the stylesheet and the filter script.

Rendered by Jinja2 with autoescaping on, so every string from a result, a log
or a JUnit file is text in the page, never markup. The files are written
plainly: ``build`` stages the whole site in a directory and swaps it in at once. Every link is relative and
the assets are local files: the site works from ``file://`` and from GitHub
Pages, with nothing fetched from the network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from vllm_matrix.report import celldetail
from vllm_matrix.report.inputs import Environment
from vllm_matrix.report.legend import CACHED_FAIL_FILL, LOOKS, look
from vllm_matrix.report.model import (
    AXIS_TITLES,
    FILTER_AXES,
    UNKNOWN,
    CellView,
    Pivot,
    failures,
    totals,
    totals_line,
)
from vllm_matrix.report.trend import sparkline

ASSETS = ("style.css", "report.js")
LOGS = "logs"  # every cell's logs, flat: logs/<cell page>.<stage>.log


@dataclass(frozen=True)
class SiteData:
    """What the matrix page shows besides the cells: title, environment, problems, downloads."""

    title: str
    generated_at: str
    tool_version: str
    environments: Sequence[Environment]
    problems: Sequence[str]
    trends: dict[str, list[tuple[str, float]]]
    downloads: Sequence[str]


def environment() -> jinja2.Environment:
    """The template environment: package templates, autoescaping everywhere, no undefined names."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vllm_matrix.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["breakable"] = breakable
    env.tests["multiple"] = lambda points: len(points) > 1
    env.globals |= {"look": look, "looks": LOOKS, "axis_titles": AXIS_TITLES, "sparkline": sparkline,
                    "cached_fail_fill": CACHED_FAIL_FILL}  # fmt: skip
    return env


def breakable(text: str) -> Markup:
    """``text`` escaped, with a line-break opportunity after each ``_`` (long class names and ids)."""
    return Markup(str(escape(text)).replace("_", "_<wbr>"))


def write(out: Path, data: SiteData, pivot: Pivot, cells: Sequence[CellView]) -> None:
    """Write index.html, cells/<id>.html with each cell's logs, and assets/ under ``out`` (a staging dir)."""
    env = environment()
    _copy_assets(out / "assets")
    matrix = env.get_template("matrix.html.j2").render(
        title=data.title, root="", **_matrix_context(data, pivot, cells)
    )
    (out / "index.html").write_text(matrix, encoding="utf-8")
    template = env.get_template("cell.html.j2")
    (out / "cells").mkdir(exist_ok=True)
    (out / LOGS).mkdir(exist_ok=True)
    for view in cells:
        detail = celldetail.page(view)
        _place_logs(detail.logs, out / LOGS, _log_prefix(view))
        html = template.render(
            view=view, page=detail, title=data.title, root="../", logs_href=_logs_href(view)
        )
        (out / view.page).write_text(html, encoding="utf-8")


def _log_prefix(view: CellView) -> str:
    """Logs sit in one flat directory (a directory per cell costs more than all the pages on a slow
    file system): ``logs/<page>.<log name>``."""
    return Path(view.page).stem + "."


def _logs_href(view: CellView) -> str:
    """Where the cell's logs are, relative to its page, up to the log's own name."""
    return f"../{LOGS}/{_log_prefix(view)}"


def _matrix_context(data: SiteData, pivot: Pivot, cells: Sequence[CellView]) -> dict[str, Any]:
    axes = [a for a in FILTER_AXES if len({v.axes[a] for v in cells} - {UNKNOWN}) > 1]
    return {
        "data": data,
        "pivot": pivot,
        "cells": cells,
        "filter_axes": [(a, sorted({v.axes[a] for v in cells})) for a in axes],
        "all_axes": FILTER_AXES,
        "statuses": _statuses(cells),
        "totals": totals(cells),
        "totals_line": totals_line(cells),
        "column_totals": {c: totals([v for v in cells if v.column == c]) for c in pivot.columns},
        "failures": failures(cells),
        "changes": [v for v in cells if v.change or v.broken_since or v.flaky],
        "cuda_versions": sorted(
            {v.result.facts.torch_cuda for v in cells if v.result and v.result.facts.torch_cuda}
        ),
    }


def _statuses(cells: Sequence[CellView]) -> list[str]:
    present = {mark for v in cells for mark in v.marks}
    return [lk.key for lk in LOOKS if lk.key in present]


def _copy_assets(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    folder = resources.files("vllm_matrix.report") / "assets"
    for name in ASSETS:
        (target / name).write_bytes((folder / name).read_bytes())


def _place_logs(logs: Sequence[tuple[str, Path]], target: Path, prefix: str) -> None:
    """Hard-link each log into the site (a copy across file systems).

    Logs only grow, and a cell that runs again unlinks its old ones first, so a
    link is a snapshot as good as a copy, without writing the logs twice.
    """
    for name, source in logs:
        try:
            os.link(source, target / (prefix + name))
        except OSError:
            shutil.copyfile(source, target / (prefix + name))

"""The report's model: one view per cell, and the pivot of configuration against torch nightly.

Rows are configurations (CUDA x arch x FA x vLLM ref, plus any other axis that
varies among the cells: GPU, dtype, python, eager), columns are what torch
actually ran (the nightly's date once resolved, else the spec, or the release
version), so the table reads like the JAX and cibuildwheel ones.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vllm_matrix.report.inputs import RESULT, Entry
from vllm_matrix.report.legend import BY_KEY, CACHED, FLAKY, STATUSES
from vllm_matrix.results import CachedFrom, CellResult

ROW_AXES = ("cuda", "arch", "flash_attn", "vllm")
EXTRA_AXES = ("gpu", "dtype", "python", "enforce_eager")  # in a row only where they vary
FILTER_AXES = ("torch", "cuda", "arch", "flash_attn", "vllm", "gpu", "dtype", "python", "enforce_eager")
AXIS_TITLES = {"torch": "torch", "cuda": "CUDA", "arch": "arch", "flash_attn": "FA", "vllm": "vLLM ref",
               "gpu": "GPU", "dtype": "dtype", "python": "python", "enforce_eager": "eager"}  # fmt: skip
DECISIVE_WIDTH = 120
EXPERIMENTAL_FAILS = "fail (experimental)"  # a count in totals(): failures that do not fail the run
_DEV_DATE = re.compile(r"\.dev(\d{4})(\d{2})(\d{2})")
UNKNOWN = "?"  # an axis no input names (a planned cell's missing field, a JUnit without it)
_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


@dataclass
class CellView:
    """One cell as the report shows it: status, place in the pivot, and what history says of it."""

    entry: Entry
    status: str  # a legend key: pass, fail, skip, n/a, cached, error, interrupted, no-result, unreadable
    verdict: str | None  # the outcome itself (for ``cached``, the one it repeats); None without a result
    column: str
    nightly: str | None  # the resolved nightly date, when there is one
    axes: dict[str, str]  # every filter axis, as shown
    cache_key: str | None
    cache_key_derived: bool  # True: facts.cache_key was absent, the key is derived from the resolved facts
    page: str = ""  # the cell page, relative to the site root
    flaky: bool = False
    change: str | None = None  # "newly broken" or "fixed", against the previous run of the cell
    previous: str | None = None  # the previous run's verdict and run name, when known
    broken_since: str | None = None
    trend: list[tuple[str, float]] = field(default_factory=list)  # (nightly, decode tokens/s), oldest first

    @property
    def id(self) -> str:
        return self.entry.cell_id

    @property
    def run(self) -> str:
        return self.entry.run

    @property
    def result(self) -> CellResult | None:
        return self.entry.result

    @property
    def experimental(self) -> bool:
        return bool(self.result.experimental if self.result else self.entry.cell.get("experimental"))

    @property
    def klass(self) -> str | None:
        return self.result.klass if self.result else None

    @property
    def stage(self) -> str | None:
        return self.result.stage if self.result and self.verdict != "pass" else None

    @property
    def cached_from(self) -> CachedFrom | None:
        return self.result.cached_from if self.result else None

    @property
    def figures(self) -> dict[str, str]:
        return self.entry.junit.figures if self.entry.junit else {}

    @property
    def decisive(self) -> str:
        """The line that explains the outcome (the reason, for a cell without a readable result)."""
        if self.result is None:
            return _cut(self.entry.reason or "")
        return decisive(self.result)

    @property
    def marks(self) -> tuple[str, ...]:
        """The statuses a filter by outcome matches: the status, the verdict it repeats, flaky."""
        marks = [self.status, *([self.verdict] if self.status == CACHED and self.verdict else [])]
        return tuple(marks + ([FLAKY] if self.flaky else []))


@dataclass
class Pivot:
    """Configuration rows against torch columns; each place holds the cells that fall there."""

    axes: tuple[str, ...]
    rows: list[tuple[str, ...]]
    columns: list[str]
    grid: dict[tuple[tuple[str, ...], str], list[CellView]]

    def at(self, row: tuple[str, ...], column: str) -> list[CellView]:
        return self.grid.get((row, column), [])

    def row_of(self, view: CellView) -> tuple[str, ...]:
        return tuple(view.axes[a] for a in self.axes)


def decisive(result: CellResult) -> str:
    """The first evidence line, else the message, on one line and cut to DECISIVE_WIDTH."""
    if result.outcome == "pass":
        return ""
    return _cut((result.evidence[0] if result.evidence else result.message) or "")


def _cut(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= DECISIVE_WIDTH else line[: DECISIVE_WIDTH - 1] + "…"


def views(entries: Iterable[Entry]) -> list[CellView]:
    """One view per entry, each with a page name unique in the site."""
    out: list[CellView] = []
    used: set[str] = set()
    for entry in entries:
        view = _view(entry)
        page = entry.cell_id if entry.cell_id not in used else f"{entry.cell_id}.{entry.run or len(used)}"
        used.add(page)
        view.page = f"cells/{page}.html"
        out.append(view)
    return out


def _view(entry: Entry) -> CellView:
    result = entry.result if entry.kind == RESULT else None
    status, verdict = (entry.kind, None) if result is None else (result.outcome, result.outcome)
    if result is not None and result.cached_from is not None:
        status = CACHED
    column, nightly = torch_column(entry.cell, result)
    key, derived = cache_key(entry.cell, result)
    return CellView(entry, status, verdict, column, nightly, shown_axes(entry.cell, column), key, derived)


def torch_column(cell: dict[str, Any], result: CellResult | None) -> tuple[str, str | None]:
    """The pivot column: the nightly's date once resolved, else the spec or the release version."""
    facts = result.facts if result else None
    nightly = (facts.torch.nightly or {}) if facts and facts.torch else {}
    date = (nightly.get("torch") or {}).get("date") if isinstance(nightly.get("torch"), dict) else None
    version = (facts.torch_version or (facts.torch.version if facts.torch else None)) if facts else None
    match = _DEV_DATE.search(version or "")
    date = date or (f"{match[1]}-{match[2]}-{match[3]}" if match else None)
    if date:
        return str(date), str(date)
    spec = str(cell.get("torch") or "unknown torch")
    return (spec.removeprefix("nightly:") if spec.startswith("nightly:") else version or spec), None


def column_order(column: str) -> tuple[int, str, int]:
    """Dated nightlies oldest first, then unresolved ``latest~k`` (oldest first), then releases."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", column):
        return 0, column, 0
    if column.startswith("latest"):
        back = column.removeprefix("latest").lstrip("~")
        return 1, "", -int(back) if back.isdigit() else 0
    return 2, column, 0


def cache_key(cell: dict[str, Any], result: CellResult | None) -> tuple[str | None, bool]:
    """``facts.cache_key`` when the result cache recorded one, else a key derived here.

    Results written before the result cache (schema 1, early schema 2, JUnit-only
    input) carry no cache_key: the derived key hashes the resolved facts that
    decide a verdict (torch version, vLLM commit or requirement, build key,
    GPU, runtime axes). Unresolved cells (skipped before resolve) have no key:
    there is nothing to compare.
    """
    if result is None:
        return None, False
    facts = result.facts
    if facts.cache_key:
        return facts.cache_key, False
    torch = facts.torch_version or (facts.torch.version if facts.torch else None)
    vllm = facts.vllm.identity() if facts.vllm else facts.vllm_version
    if not torch or not vllm:
        return None, True
    parts = [f"torch={torch}", f"vllm={vllm}", f"build_key={facts.build_key}"]
    parts += [f"{k}={cell.get(k)}" for k in ("gpu", "flash_attn", "dtype", "enforce_eager", "suites")]
    return "derived:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16], True


def shown_axes(cell: dict[str, Any], column: str) -> dict[str, str]:
    """Every filter axis as a short label: ``FA2``, ``main``, ``bf16``; torch is the pivot column."""
    fa = cell.get("flash_attn")
    vllm = str(cell.get("vllm") or UNKNOWN)
    eager = cell.get("enforce_eager")
    return {
        "torch": column,
        "cuda": str(cell.get("cuda") or UNKNOWN),
        "arch": str(cell.get("arch") or "no arch list"),
        "flash_attn": f"FA{fa}" if fa else "no FA",
        "vllm": vllm.split(":", 1)[1] if vllm.startswith(("git:", "wheel:", "sdist:")) else vllm,
        "gpu": str(cell.get("gpu") or UNKNOWN),
        "dtype": _DTYPES.get(str(cell.get("dtype")), str(cell.get("dtype") or UNKNOWN)),
        "python": str(cell.get("python") or UNKNOWN),
        "enforce_eager": UNKNOWN if eager is None else "eager" if eager else "graphs",
    }


def pivot(cells: Sequence[CellView]) -> Pivot:
    """The pivot: the row axes are ROW_AXES plus each EXTRA_AXES axis that varies."""
    axes = ROW_AXES + tuple(a for a in EXTRA_AXES if len({v.axes[a] for v in cells} - {UNKNOWN}) > 1)
    grid: dict[tuple[tuple[str, ...], str], list[CellView]] = {}
    for view in cells:
        grid.setdefault((tuple(view.axes[a] for a in axes), view.column), []).append(view)
    rows = sorted({row for row, _ in grid})
    columns = sorted({column for _, column in grid}, key=column_order)
    return Pivot(axes, rows, columns, grid)


def totals(cells: Iterable[CellView]) -> dict[str, int]:
    """Cells per status (in legend order), flaky cells, and experimental failures apart."""
    cells = list(cells)
    counts = Counter(v.status for v in cells)
    out = {status: counts[status] for status in STATUSES if counts[status]}
    flaky = sum(1 for v in cells if v.flaky)
    soft = sum(1 for v in cells if v.status == "fail" and v.experimental)
    return out | ({FLAKY: flaky} if flaky else {}) | ({EXPERIMENTAL_FAILS: soft} if soft else {})


def totals_line(cells: Sequence[CellView]) -> str:
    """``50 cells: 2 pass, 3 fail (1 experimental), 45 skip, 1 flaky``."""
    counts = totals(cells)
    soft = counts.pop(EXPERIMENTAL_FAILS, 0)
    shown = ", ".join(f"{n} {BY_KEY[k].label}" + (f" ({soft} experimental)" if k == "fail" and soft else "")
                      for k, n in counts.items())  # fmt: skip
    return f"{len(cells)} cells: {shown or 'none'}"


def failures(cells: Iterable[CellView]) -> list[CellView]:
    """The cells listed under the table: failed, errored, interrupted, unreadable, without a result."""
    listed = ("fail", "error", "interrupted", "unreadable", "no-result")
    return [v for v in cells if v.status in listed or (v.status == CACHED and v.verdict == "fail")]

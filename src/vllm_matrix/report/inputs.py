"""The report's inputs: run directories, JUnit files (CI artifacts) and a plan, merged into entries.

Nothing is dropped. A result.json that cannot be read (corrupt, truncated, a
schema this tool does not know), a JUnit file that cannot be parsed, a run with
no results, a log a result names but that is not there: each is one line in
``problems``, and the cell stays in the report (as "unreadable result" when its
verdict cannot be read; a readable verdict is kept and its page says what is
missing). A cell that was planned or selected but has no result at all (a CI
artifact that never arrived) is "no result", never a pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.report import junitread
from vllm_matrix.report.fromjunit import result_from_junit
from vllm_matrix.report.junitread import JUnitSummary
from vllm_matrix.report.legend import NO_RESULT, UNREADABLE
from vllm_matrix.results import OUTCOMES, RUN_FILE, CellResult, RunStore

RESULT = "result"
SEARCH_DEPTH = 3  # how deep a directory of CI artifacts is searched for run directories


@dataclass(frozen=True)
class Environment:
    """Where a run's cells ran: the header of the matrix page."""

    run: str
    host: str | None
    gpus: tuple[str, ...]
    nvcc: str | None
    tool_version: str | None


@dataclass
class Entry:
    """One cell of one run as the inputs hold it: a readable result, an unreadable one, or none."""

    cell_id: str
    run: str
    kind: str  # RESULT, UNREADABLE or NO_RESULT
    cell: dict[str, Any] = field(default_factory=dict)  # the cell's axes, from wherever they are known
    result: CellResult | None = None
    reason: str | None = None  # why it is unreadable, or why there is no result
    cell_dir: Path | None = None
    junit: JUnitSummary | None = None
    notes: list[str] = field(default_factory=list)  # what is missing around a readable verdict


@dataclass
class Loaded:
    """Every entry, the runs' environments and start times, and one line per problem found."""

    entries: list[Entry] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)
    started: dict[str, str] = field(default_factory=dict)  # run name -> started_at
    run_dirs: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load(paths: Sequence[Path], plan: Path | None = None, known: dict[str, dict[str, Any]] | None = None
         ) -> Loaded:  # fmt: skip
    """Read every input; ``plan`` and ``known`` (the matrix's cells) say which cells were expected.

    Cells a plan names that no input has become "no result"; ``known`` only
    supplies the axes of cells whose results lack them.
    """
    loaded = Loaded()
    for path in paths:
        _load_path(loaded, path)
    planned = _read_plan(loaded, plan) if plan else {}
    _add_missing(loaded, planned)
    loaded.entries = _dedupe(loaded, loaded.entries)
    axes = {**(known or {}), **planned}
    for entry in loaded.entries:
        entry.cell = entry.cell or dict(axes.get(entry.cell_id, {}))
        _note_problems(loaded, entry)
    if not loaded.entries:
        loaded.problems.append("no cells in the inputs: the report is empty")
    return loaded


def _load_path(loaded: Loaded, path: Path) -> None:
    if (path / "cells").is_dir() or (path / RUN_FILE).is_file():
        _load_run(loaded, path)
    elif path.is_dir():
        _load_tree(loaded, path)
    elif path.is_file():
        _load_junit(loaded, path)
    else:
        loaded.problems.append(f"{path}: no such file or directory; left out of the report")


def _load_tree(loaded: Loaded, root: Path) -> None:
    """A directory of CI artifacts: the run directories below it, else the JUnit files below it."""
    runs = sorted({p.parent for depth in range(1, SEARCH_DEPTH + 1)
                   for p in root.glob("/".join(["*"] * depth) + "/cells") if p.is_dir()})  # fmt: skip
    for run_dir in runs:
        _load_run(loaded, run_dir)
    xml = [] if runs else sorted(root.rglob("*.xml"))
    for path in xml:
        _load_junit(loaded, path)
    if not runs and not xml:
        why = "not a run directory (no cells/), nor a folder of runs or JUnit files"
        loaded.problems.append(f"{root}: {why}")


def _load_run(loaded: Loaded, root: Path) -> None:
    store = RunStore(root)
    meta = store.read_meta()
    name = str(meta.get("run") or store.name)
    loaded.run_dirs.append(store.root)
    loaded.started[name] = min(filter(None, [loaded.started.get(name), str(meta.get("started_at", ""))]),
                               default="")  # fmt: skip
    scan = store.scan()
    entries = [_from_result(store, result, name) for result in scan.results]
    for bad in scan.unreadable:
        entries.append(
            _unreadable(bad.cell_id, name, f"{bad.path} {bad.reason}", store.cell_dir(bad.cell_id))
        )
    have = {e.cell_id for e in entries}
    for cell_id in meta.get("selected", []):
        if cell_id not in have:
            entries.append(Entry(cell_id, name, NO_RESULT, reason=f"selected in run {name}, never recorded"))
    if not entries:
        loaded.problems.append(f"{root}: empty run (no cell results, nothing selected)")
    loaded.environments.append(_environment(name, meta, entries))
    loaded.entries += entries


def _from_result(store: RunStore, result: CellResult, run: str) -> Entry:
    cell_dir = store.cell_dir(result.id)
    if result.outcome not in OUTCOMES:
        reason = f"{store.result_path(result.id)} has the unknown outcome {result.outcome!r}"
        return _unreadable(result.id, run, reason, cell_dir)
    entry = Entry(
        result.id, result.run or run, RESULT, cell=dict(result.cell), result=result, cell_dir=cell_dir
    )
    junit = store.junit_path(result.id)
    if junit.is_file():
        try:
            entry.junit = junitread.summarise(junitread.read_suites(junit), source=junit)
        except ValueError as exc:
            entry.notes.append(f"{junit} {exc}: its tests and figures are left out")
    missing = [str(log) for log in _logs_named(result) if not (cell_dir / log).is_file()]
    if missing:
        entry.notes.append(
            f"log{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing from {cell_dir}"
        )
    return entry


def _logs_named(result: CellResult) -> list[Path]:
    names = [result.log] + [s.log for s in result.stages]
    return [Path(n) for n in dict.fromkeys(n for n in names if n)]


def _unreadable(cell_id: str, run: str, reason: str, cell_dir: Path | None) -> Entry:
    """An unreadable result; its axes come from its JUnit when that, at least, can be read."""
    entry = Entry(cell_id, run, UNREADABLE, reason=reason, cell_dir=cell_dir)
    junit = cell_dir / "junit.xml" if cell_dir else None
    if junit is not None and junit.is_file():
        try:
            entry.junit = junitread.summarise(junitread.read_suites(junit), source=junit)
            entry.cell = result_from_junit(cell_id, entry.junit).cell
        except ValueError:
            pass
    return entry


def _load_junit(loaded: Loaded, path: Path) -> None:
    try:
        suites = junitread.read_suites(path)
    except ValueError as exc:
        cell_id = _id_from_path(path)
        loaded.entries.append(Entry(cell_id, "", UNREADABLE, reason=f"{path} {exc}"))
        return
    groups = junitread.by_cell(suites)
    if not groups:
        loaded.problems.append(f"{path}: a JUnit file with no test suites; left out")
    for cell_id, cell_suites in groups.items():
        summary = junitread.summarise(cell_suites, source=path if len(groups) == 1 else None)
        result = result_from_junit(cell_id, summary)
        entry = Entry(cell_id, result.run, RESULT, cell=dict(result.cell), result=result, junit=summary)
        if result.outcome not in OUTCOMES:
            reason = f"{path}: cell {cell_id} has no known outcome ({result.outcome!r})"
            entry = Entry(
                cell_id, result.run, UNREADABLE, cell=dict(result.cell), junit=summary, reason=reason
            )
        loaded.entries.append(entry)


def _id_from_path(path: Path) -> str:
    """The cell a JUnit file is about: its directory under cells/, else the file name."""
    if path.parent.parent.name == "cells":
        return path.parent.name
    return path.stem.removeprefix("junit-").removesuffix("-junit") or path.stem


def _note_problems(loaded: Loaded, entry: Entry) -> None:
    where = f"cell {entry.cell_id}" + (f" of run {entry.run}" if entry.run else "")
    if entry.kind == UNREADABLE:
        loaded.problems.append(f"{entry.reason}: {where} shows as unreadable result")
    elif entry.kind == NO_RESULT:
        loaded.problems.append(f"{where}: no result ({entry.reason})")
    loaded.problems += [f"{where}: {note}" for note in entry.notes]


def _environment(run: str, meta: dict[str, Any], entries: Iterable[Entry]) -> Environment:
    found = meta.get("hardware")
    hardware: dict[str, Any] = found if isinstance(found, dict) else {}
    gpus = tuple(_gpu_text(g) for g in hardware.get("gpus", []) if isinstance(g, dict))
    host = meta.get("host") or next((e.junit.hostname for e in entries if e.junit and e.junit.hostname), None)
    return Environment(run, host, gpus, hardware.get("nvcc_version"), meta.get("tool_version"))


def _gpu_text(gpu: dict[str, Any]) -> str:
    cap = str(gpu.get("compute_cap", ""))
    sm = "sm_" + cap.replace(".", "") if cap else "?"
    return f"{gpu.get('name', 'GPU')} ({sm}, driver {gpu.get('driver', '?')})"


def _read_plan(loaded: Loaded, path: Path) -> dict[str, dict[str, Any]]:
    """The cells of ``vllm-matrix plan --format json`` (or ``github``), by id."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        loaded.problems.append(f"plan {path} cannot be read ({exc}); missing cells cannot be listed")
        return {}
    cells = data.get("include", []) if isinstance(data, dict) else data
    if not isinstance(cells, list):
        loaded.problems.append(f"plan {path} is not a list of cells; missing cells cannot be listed")
        return {}
    return {str(c["id"]): c for c in cells if isinstance(c, dict) and c.get("id")}


def _add_missing(loaded: Loaded, planned: dict[str, dict[str, Any]]) -> None:
    have = {e.cell_id for e in loaded.entries}
    runs = [e.run for e in loaded.entries if e.run]
    run = max(set(runs), key=runs.count) if runs else ""
    for cell_id, cell in planned.items():
        if cell_id not in have:
            entry = Entry(
                cell_id, run, NO_RESULT, cell=dict(cell), reason="planned, but no artifact came back"
            )
            loaded.entries.append(entry)


def _dedupe(loaded: Loaded, entries: list[Entry]) -> list[Entry]:
    """One entry per (run, cell): a readable result beats an unreadable one, which beats none."""
    kept: dict[tuple[str, str], Entry] = {}
    for entry in entries:
        key = (entry.run, entry.cell_id)
        old = kept.get(key)
        if old is None or _rank(entry) > _rank(old):
            kept[key] = entry
        if old is not None and old.kind == entry.kind == RESULT:
            loaded.problems.append(f"cell {entry.cell_id} of run {entry.run} is in two inputs: "
                                   "showing the one that finished later")  # fmt: skip
    return list(kept.values())


def _rank(entry: Entry) -> tuple[int, str]:
    order = {NO_RESULT: 0, UNREADABLE: 1, RESULT: 2}[entry.kind]
    return order, entry.result.finished_at if entry.result else ""

"""A cell's result (result.json, schema in docs/results.md) and the run's store on disk.

Layout: ``<reports>/<run>/run.json`` and ``<reports>/<run>/cells/<id>/``
holding ``result.json``, ``junit.xml`` and ``logs/<stage>.log``. Every file is
written to a temporary name and renamed into place, so a reader (or a run
killed half-way) never sees half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.errors import InputError

SCHEMA_VERSION = 1
OUTCOMES = ("pass", "fail", "skip", "error", "interrupted")
# Outcomes a ``--resume`` keeps; an interrupted cell runs again.
FINISHED = ("pass", "fail", "skip", "error")
RUN_FILE = "run.json"
REPORTS_ENV = "VLLM_MATRIX_REPORTS"
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RESULT_FILE = "result.json"
JUNIT_FILE = "junit.xml"


def utc_now() -> str:
    """Now, as an ISO 8601 UTC timestamp with seconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Atomic, indented JSON with a final newline."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


@dataclass
class StageRecord:
    """How one stage went: ``pass``, ``fail``, ``skip``, ``error``, ``interrupted`` or ``reused``."""

    name: str
    status: str
    duration_s: float = 0.0
    log: str | None = None  # relative to the cell dir
    message: str | None = None


@dataclass
class CellResult:
    """Everything result.json holds about one cell (see docs/results.md)."""

    id: str
    run: str
    outcome: str
    cell: dict[str, Any]
    experimental: bool = False
    stage: str | None = None
    klass: str | None = None
    message: str | None = None
    evidence: list[str] = field(default_factory=list)
    evidence_line: int | None = None
    log: str | None = None
    hint: str | None = None
    diagnosis: dict[str, Any] | None = None
    stages: list[StageRecord] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    schema_version: int = SCHEMA_VERSION

    @property
    def finished(self) -> bool:
        """Whether ``--resume`` keeps this result rather than running the cell again."""
        return self.outcome in FINISHED

    @property
    def counts_as_failure(self) -> bool:
        """A failure that makes the run's exit code 1: experimental cells' failures do not."""
        return self.outcome == "fail" and not self.experimental

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["class"] = data.pop("klass")
        order = ["schema_version", "id", "run", "outcome", "experimental", "stage", "class", "message"]
        return {k: data[k] for k in order} | {k: v for k, v in data.items() if k not in order}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        """Read a result.json written by this or an older schema version."""
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ValueError(f"unsupported result schema_version {version!r} (this tool reads <= 1)")
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["klass"] = data.get("class")
        values["stages"] = [StageRecord(**s) for s in data.get("stages", [])]
        return cls(**values)


@dataclass(frozen=True)
class RunStore:
    """One run's directory under the reports dir."""

    root: Path  # <reports>/<run>

    def __post_init__(self) -> None:
        # Stages run with the cell dir as their working directory: every path they get is absolute.
        object.__setattr__(self, "root", Path(os.path.abspath(self.root)))

    @property
    def name(self) -> str:
        return self.root.name

    def cell_dir(self, cell_id: str) -> Path:
        return self.root / "cells" / cell_id

    def result_path(self, cell_id: str) -> Path:
        return self.cell_dir(cell_id) / RESULT_FILE

    def junit_path(self, cell_id: str) -> Path:
        return self.cell_dir(cell_id) / JUNIT_FILE

    def write_result(self, result: CellResult) -> Path:
        path = self.result_path(result.id)
        write_json(path, result.to_dict())
        return path

    def read_result(self, cell_id: str) -> CellResult | None:
        """The cell's stored result; None when absent or unreadable (it will run again)."""
        try:
            return CellResult.from_dict(json.loads(self.result_path(cell_id).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def results(self) -> list[CellResult]:
        """Every readable cell result of the run, in the order the run selected them."""
        order = self.read_meta().get("selected", [])
        found = {r.id: r for r in self._scan()}
        ids = [i for i in order if i in found] + sorted(i for i in found if i not in order)
        return [found[i] for i in ids]

    def _scan(self) -> Iterator[CellResult]:
        cells = self.root / "cells"
        for path in sorted(cells.glob(f"*/{RESULT_FILE}")) if cells.is_dir() else []:
            result = self.read_result(path.parent.name)
            if result is not None:
                yield result

    def read_meta(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_json(self.root / RUN_FILE, {"schema_version": SCHEMA_VERSION, **meta})


def reports_dir(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--reports``, else ``$VLLM_MATRIX_REPORTS``, else ./reports (made absolute)."""
    env = os.environ if environ is None else environ
    return Path(os.path.abspath(explicit or env.get(REPORTS_ENV) or "reports"))


def check_run_name(name: str) -> str:
    """A run name is a directory name: letters, digits, ``.``, ``_``, ``-``."""
    if not RUN_NAME.match(name):
        raise InputError(f"run name {name!r}: use letters, digits, '.', '_' and '-' only")
    return name


def new_run_name() -> str:
    """A run name that sorts by time: ``20261129T181000Z``."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def latest_run(reports: Path) -> Path:
    """The most recently started run directory under ``reports``."""
    runs = sorted((p for p in reports.glob("*") if (p / RUN_FILE).is_file()), key=_started)
    if not runs:
        raise InputError(f"no runs under {reports}; run `vllm-matrix run` first or name a run directory")
    return runs[-1]


def _started(run_dir: Path) -> tuple[str, str]:
    """Sort key: when the run started (ISO text sorts by time), then its name."""
    return str(RunStore(run_dir).read_meta().get("started_at", "")), run_dir.name

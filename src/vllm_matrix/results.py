"""A cell's result (result.json, schema in docs/results.md) and the run's store on disk.

Layout: ``<reports>/<run>/run.json`` and ``<reports>/<run>/cells/<id>/``
holding ``result.json``, ``junit.xml`` and ``logs/<stage>.log``. Every file is
written atomically (``fileio``), so a reader (or a run killed half-way) never
sees half a file.

Schema 2 holds the cell's typed ``CellState`` as ``facts``. Schema 1 results
(written before the state was typed) are still read: their facts are mapped
onto the same fields (``_facts_from_v1``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.classify.engine import Diagnosis
from vllm_matrix.errors import InputError
from vllm_matrix.fileio import write_json
from vllm_matrix.matrix.names import is_run_name
from vllm_matrix.serial import SerialError, from_data, to_data
from vllm_matrix.stages.state import CellState

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
# n/a: a combination the applicability table rules out; it is recorded, never run.
OUTCOMES = ("pass", "fail", "skip", "error", "interrupted", "n/a")
# Outcomes a ``--resume`` keeps; an interrupted cell runs again.
FINISHED = ("pass", "fail", "skip", "error", "n/a")
RUN_FILE = "run.json"
REPORTS_ENV = "VLLM_MATRIX_REPORTS"
RESULT_FILE = "result.json"
JUNIT_FILE = "junit.xml"


def utc_now() -> str:
    """Now, as an ISO 8601 UTC timestamp with seconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StageRecord:
    """How one stage went: ``pass``, ``fail``, ``skip``, ``error``, ``interrupted`` or ``reused``."""

    name: str
    status: str
    duration_s: float = 0.0
    log: str | None = None  # relative to the cell dir
    message: str | None = None


@dataclass(frozen=True)
class CachedFrom:
    """The earlier run and cell whose verdict, on the same resolved inputs, this result repeats."""

    run: str
    cell: str


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
    diagnosis: Diagnosis | None = None
    stages: list[StageRecord] = field(default_factory=list)
    facts: CellState = field(default_factory=CellState)
    cached_from: CachedFrom | None = None  # the verdict was taken from this run's cell, not re-run
    flaky: bool = False  # the same resolved inputs have given different verdicts
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
        head = {"schema_version": SCHEMA_VERSION, "id": self.id, "run": self.run, "outcome": self.outcome,
                "experimental": self.experimental, "stage": self.stage, "class": self.klass,
                "message": self.message}  # fmt: skip
        return head | {
            "cell": self.cell,
            "evidence": list(self.evidence),
            "evidence_line": self.evidence_line,
            "log": self.log,
            "hint": self.hint,
            "diagnosis": self.diagnosis.to_dict() if self.diagnosis else None,
            "stages": [_stage_dict(s) for s in self.stages],
            "facts": self.facts.to_dict(),
            "cached_from": to_data(self.cached_from) if self.cached_from else None,
            "flaky": self.flaky,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellResult:
        """Read a result.json of schema 1 or 2; anything else is ValueError naming the version."""
        version = data.get("schema_version")
        if version not in READABLE_SCHEMAS:
            raise ValueError(f"unsupported result schema_version {version!r} (this tool reads 1 and 2)")
        facts = data.get("facts") or {}
        facts = _facts_from_v1(facts) if version == 1 else facts
        try:
            state = CellState.from_dict(facts)
            stages = from_data(data.get("stages", []), list[StageRecord])
        except SerialError as exc:
            raise ValueError(str(exc)) from None
        return cls(
            id=str(data["id"]), run=str(data.get("run", "")), outcome=str(data["outcome"]),
            cell=dict(data.get("cell") or {}), experimental=bool(data.get("experimental")),
            stage=data.get("stage"), klass=data.get("class"), message=data.get("message"),
            evidence=[str(e) for e in data.get("evidence") or []], evidence_line=data.get("evidence_line"),
            log=data.get("log"), hint=data.get("hint"), diagnosis=_diagnosis(data.get("diagnosis")),
            stages=stages, facts=state, cached_from=_cached_from(data.get("cached_from")),
            flaky=bool(data.get("flaky")),
            started_at=str(data.get("started_at", "")), finished_at=str(data.get("finished_at", "")),
            duration_s=float(data.get("duration_s") or 0.0),
        )  # fmt: skip


def _diagnosis(data: Any) -> Diagnosis | None:
    return Diagnosis.from_dict(data) if isinstance(data, dict) and data.get("class") else None


def _cached_from(data: Any) -> CachedFrom | None:
    return CachedFrom(str(data["run"]), str(data["cell"])) if isinstance(data, dict) else None


def _stage_dict(record: StageRecord) -> dict[str, Any]:
    """A stage record with every key present (``to_data`` would leave out the defaults)."""
    return {"name": record.name, "status": record.status, "duration_s": record.duration_s,
            "log": record.log, "message": record.message}  # fmt: skip


def _facts_from_v1(facts: dict[str, Any]) -> dict[str, Any]:
    """Schema 1's facts in schema 2's shape: the nightly answer nested, the build env split."""
    out = dict(facts)
    torch = facts.get("torch")
    if isinstance(torch, dict):
        keep = ("spec", "kind", "version", "requirements", "index")
        nightly = {k: v for k, v in torch.items() if k not in keep}
        out["torch"] = {k: torch[k] for k in keep if k in torch} | ({"nightly": nightly} if nightly else {})
    build_env = facts.get("build_env")
    if isinstance(build_env, dict):
        env = {k: str(v) for k, v in build_env.items() if k != "reasons"}
        out["build_env"] = {"env": env, "reasons": build_env.get("reasons", {})}
    suites = facts.get("suites")
    if isinstance(suites, dict) and "suites" not in suites:
        out.pop("suites")
    return out


@dataclass(frozen=True)
class Unreadable:
    """A cell whose result.json is there but cannot be read, and why (for the report: never dropped)."""

    cell_id: str
    path: Path
    reason: str


@dataclass(frozen=True)
class ResultScan:
    """Every cell directory of a run with a result.json: the readable results and the unreadable ones."""

    results: list[CellResult]
    unreadable: list[Unreadable]


def load_result(path: Path) -> CellResult:
    """Read one result.json; ValueError with a one-line reason when it is missing, corrupt or unknown."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON, truncated or corrupt (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("is not a JSON object")
    try:
        return CellResult.from_dict(data)
    except KeyError as exc:
        raise ValueError(f"lacks the key {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


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
        except (OSError, ValueError, TypeError, KeyError):
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

    def scan(self) -> ResultScan:
        """Like ``results()``, but an unreadable result.json is kept, with its reason, not dropped."""
        order = self.read_meta().get("selected", [])
        found: dict[str, CellResult] = {}
        unreadable = []
        cells = self.root / "cells"
        for path in sorted(cells.glob(f"*/{RESULT_FILE}")) if cells.is_dir() else []:
            try:
                found[path.parent.name] = load_result(path)
            except ValueError as exc:
                unreadable.append(Unreadable(path.parent.name, path, str(exc)))
        ids = [i for i in order if i in found] + sorted(i for i in found if i not in order)
        return ResultScan([found[i] for i in ids], unreadable)

    def read_meta(self) -> dict[str, Any]:
        try:
            data = json.loads((self.root / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        write_json(self.root / RUN_FILE, {"schema_version": SCHEMA_VERSION, **to_data(meta)})


def reports_dir(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--reports``, else ``$VLLM_MATRIX_REPORTS``, else ./reports (made absolute)."""
    env = os.environ if environ is None else environ
    return Path(os.path.abspath(explicit or env.get(REPORTS_ENV) or "reports"))


def check_run_name(name: str) -> str:
    """A run name is a directory name: letters, digits, ``.``, ``_``, ``-``."""
    if not is_run_name(name):
        raise InputError(f"run name {name!r}: use letters, digits, '.', '_' and '-' only")
    return name


def latest_run(reports: Path) -> Path:
    """The most recently started run directory under ``reports``."""
    runs = sorted((p for p in reports.glob("*") if (p / RUN_FILE).is_file()), key=_started)
    if not runs:
        raise InputError(f"no runs under {reports}; run `vllm-matrix run` first or name a run directory")
    return runs[-1]


def _started(run_dir: Path) -> tuple[str, str]:
    """Sort key: when the run started (ISO text sorts by time), then its name."""
    return str(RunStore(run_dir).read_meta().get("started_at", "")), run_dir.name

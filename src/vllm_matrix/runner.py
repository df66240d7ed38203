"""Run cells: their stages in order, build-key reuse, outcomes, and result.json + junit.xml per cell.

A cell ends in one of: ``pass``; ``fail`` (a stage's verdict, classified from
its log); ``skip`` (a GPU this machine lacks, a nightly not on the index);
``error`` (the harness broke or the machine cannot run it: a bug or a full
disk, never a verdict about vLLM); ``interrupted`` (Ctrl-C, SIGTERM). One
cell's ``error`` never stops the others.

Cells that share a resolved build key share one venv: the install stages run
once, later cells record them as ``reused``; a build that failed is not
retried by the next cell of the same key in the same run.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vllm_matrix import __version__, fileio
from vllm_matrix.classify.engine import Diagnosis, classify_file
from vllm_matrix.errors import EXIT_CELL_FAILED, EXIT_HARNESS, EXIT_OK, MatrixError
from vllm_matrix.hardware import Hardware
from vllm_matrix.junit import write_cell_junit
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.resultcache import VERDICTS, ResultCache, cache_key, flaky, key_parts, machine_facts, repeat
from vllm_matrix.results import CellResult, RunStore, StageRecord, utc_now
from vllm_matrix.serial import SerialError, from_data, to_data
from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext, StageError, StageFailed, StageSkipped
from vllm_matrix.stages.pipeline import INSTALL, Run, Stage, stages_for
from vllm_matrix.stages.resolve import MARKER
from vllm_matrix.stages.state import BuildFacts, CellState, ReusedBuild
from vllm_matrix.stages.suites import PYTEST_JUNIT, payload_dir
from vllm_matrix.workdir import Workdir

Progress = Callable[[str], None]


@dataclass
class Options:
    """What the user asked for on the command line."""

    force: bool = False  # run cells whose GPU this machine lacks; never take a cached verdict
    resume: bool = False  # keep finished cells of the run
    no_cache: bool = False  # run every cell, even one whose inputs were decided before


@dataclass(frozen=True)
class BuildFailure:
    """A build key whose install stages failed in this run, and how."""

    cell_id: str
    stage: str
    klass: str | None
    message: str
    evidence: tuple[str, ...]
    log: str | None


@dataclass(frozen=True)
class BuiltVenv:
    """The completion marker of a build-key venv: who built it, and what they learned."""

    cell: str
    run: str
    built_at: str
    facts: BuildFacts


@dataclass
class Runner:
    """Runs cells into one run's store, sharing one work dir."""

    config: MatrixConfig
    store: RunStore
    work: Workdir
    hardware: Hardware
    options: Options = field(default_factory=Options)
    stages: Mapping[str, Run] = field(default_factory=dict)  # overrides, by stage name (tests)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    progress: Progress = lambda line: None
    failed_builds: dict[str, BuildFailure] = field(default_factory=dict)
    use_cache: bool = True  # the work dir's result cache (off: neither read nor written)
    _machine: dict[str, str] | None = None

    @property
    def cache(self) -> ResultCache | None:
        return ResultCache(self.work.verdicts) if self.use_cache else None

    def machine(self) -> dict[str, str]:
        """What of this machine and tool a verdict depends on (computed once per runner)."""
        if self._machine is None:
            self._machine = machine_facts(self.hardware, self.environ, payload_dir(self.environ))
        return self._machine

    def run(self, cells: Sequence[Cell]) -> list[CellResult]:
        """Run ``cells`` in order; with ``resume``, finished cells keep their stored result."""
        results = []
        for number, cell in enumerate(cells, start=1):
            kept = self.store.read_result(cell.id) if self.options.resume else None
            if kept is not None and kept.finished:
                self.progress(f"[{number}/{len(cells)}] {cell.id}: {kept.outcome} (kept from the run)")
                results.append(kept)
                continue
            self.progress(f"[{number}/{len(cells)}] {cell.id}")
            result = self.run_cell(cell)
            self.progress(f"[{number}/{len(cells)}] {cell.id}: {describe(result)}")
            results.append(result)
        return results

    def run_cell(self, cell: Cell) -> CellResult:
        """Run one cell and store its result; an interrupt is stored, then re-raised."""
        return CellRun(self, cell).execute()

    def stage_fn(self, stage: Stage) -> Run:
        return self.stages.get(stage.name) or stage.run


class CellRun:
    """One cell's pass through its stages."""

    def __init__(self, runner: Runner, cell: Cell) -> None:
        self.runner = runner
        self.cell = cell
        self.state = CellState()
        self.ctx = StageContext(
            stage="setup",
            cell=cell,
            config=runner.config,
            work=runner.work,
            cell_dir=runner.store.cell_dir(cell.id),
            env=cell_env(cell, uv.base_env(runner.work.uv_cache, runner.environ)),
            state=self.state,
            hardware=runner.hardware,
            run_name=runner.store.name,
        )
        self.records: list[StageRecord] = []
        self.result = CellResult(id=cell.id, run=runner.store.name, outcome="pass", cell=cell.to_dict(),
                                 experimental=cell.experimental, started_at=utc_now())  # fmt: skip
        self.start = time.monotonic()
        self.current: str | None = None

    def execute(self) -> CellResult:
        _clear_previous(self.ctx.cell_dir)
        if self.cell.not_applicable is not None:
            self._end("n/a", None, self.cell.not_applicable)
            return self._finish()
        try:
            self._run_stages()
        except StageSkipped as exc:
            self._end("skip", exc.stage, exc.reason)
        except StageFailed as exc:
            self._fail(exc)
        except StageError as exc:
            self._end("error", exc.stage, exc.message)
        except KeyboardInterrupt:
            self._end("interrupted", self.current, f"interrupted during {self.current or 'setup'}")
            self._finish()
            raise
        except Exception as exc:
            self._harness_error(exc)
        return self._finish()

    def _run_stages(self) -> None:
        lacking = self.runner.hardware.lacks(self.cell.gpu)
        if lacking and not self.runner.options.force:
            raise StageSkipped("hardware", lacking)
        self.state.forced = lacking
        stages = stages_for(self.cell)
        last_install = [s for s in stages if s.installs][-1]
        for stage in stages:
            if stage.installs and self._reuse(stage.name):
                continue
            self._run_stage(stage)
            if stage.name == "resolve" and self._decided_before():
                return
            if stage is last_install:
                self._mark_built()

    def _decided_before(self) -> bool:
        """Key the cell by its resolved inputs; repeat the verdict those inputs already had."""
        self.state.cache_key = cache_key(key_parts(self.cell, self.state, self.runner.machine()))
        cache, options = self.runner.cache, self.runner.options
        verdict = (
            cache.decided(self.state.cache_key) if cache and not (options.force or options.no_cache) else None
        )
        if verdict is None:
            return False
        self.result = repeat(verdict, self.result, self.state, self.records[-1])
        self.records = list(self.result.stages)
        self.state = self.result.facts
        return True

    def _run_stage(self, stage: Stage) -> None:
        self.current = stage.name
        ctx = self.ctx.bound(stage.name)
        self.runner.progress(f"  {self.cell.id}: {stage.name} (log: {ctx.log})")
        started = time.monotonic()
        try:
            self.runner.stage_fn(stage)(ctx)
        except BaseException as exc:
            self._record(stage.name, *stage_status(exc), time.monotonic() - started)
            raise
        self._record(stage.name, "pass", None, time.monotonic() - started)

    def _record(self, name: str, status: str, message: str | None, duration: float) -> None:
        log = self.ctx.log_of(name)
        rel = str(log.relative_to(self.ctx.cell_dir)) if log.exists() else None
        self.records.append(StageRecord(name, status, round(duration, 3), rel, message))

    def _reuse(self, name: str) -> bool:
        """Whether an install stage is covered by this build key's finished (or failed) build."""
        key = self.state.build_key
        if key is None:
            return False
        failure = self.runner.failed_builds.get(key)
        if failure is not None:
            message = (
                f"same build as cell {failure.cell_id}, which failed at {failure.stage}: {failure.message}"
            )
            self.records.append(StageRecord(failure.stage, "fail", 0.0, failure.log, message))
            raise StageFailed(failure.stage, message, klass=failure.klass, evidence=failure.evidence,
                              log=Path(failure.log) if failure.log else None)  # fmt: skip
        marker = read_marker(self.ctx.venv)
        if marker is None:
            return False
        if name == "venv":
            self.state.adopt(marker.facts)
            self.state.reused_build = ReusedBuild(marker.cell, marker.run)
        by = f"{marker.cell} in run {marker.run}"
        self.records.append(StageRecord(name, "reused", 0.0, None, f"build key {key} built by {by}"))
        return True

    def _mark_built(self) -> None:
        """Write the venv's completion marker: later cells with this build key reuse it."""
        marker = BuiltVenv(self.cell.id, self.runner.store.name, utc_now(), self.state.build_facts())
        fileio.write_json(self.ctx.venv / MARKER, to_data(marker))

    def _fail(self, exc: StageFailed) -> None:
        diagnosis = None
        klass, evidence, hint, line = exc.klass, list(exc.evidence), None, None
        if klass is None and exc.log is not None:
            diagnosis, hint = diagnose(exc.log, exc.stage, self.runner.config.catalogues)
        if diagnosis is not None:
            klass, hint, line = diagnosis.klass, diagnosis.hint, diagnosis.line_number
            evidence = evidence or list(diagnosis.evidence)
        self._end("fail", exc.stage, exc.message)
        self.result.klass, self.result.evidence, self.result.hint = klass, evidence, hint
        self.result.evidence_line, self.result.diagnosis = line, diagnosis
        self.result.log = _rel_log(exc.log, self.ctx.cell_dir)
        key = self.state.build_key
        if key and exc.stage in INSTALL and not exc.message.startswith("same build as cell"):
            self.runner.failed_builds[key] = BuildFailure(
                self.cell.id,
                exc.stage,
                klass,
                exc.message,
                tuple(evidence),
                str(exc.log) if exc.log else None,
            )

    def _harness_error(self, exc: Exception) -> None:
        stage = self.current or "setup"
        log = self.ctx.cell_dir / "logs" / "harness-error.log"
        fileio.write_atomic(log, "".join(traceback.format_exception(exc)))
        self._end("error", stage, f"harness error in {stage}: {type(exc).__name__}: {exc}")
        self.result.log = _rel_log(log, self.ctx.cell_dir)

    def _end(self, outcome: str, stage: str | None, message: str) -> None:
        self.result.outcome, self.result.stage, self.result.message = outcome, stage, message
        if outcome != "fail":
            log = self.ctx.log_of(stage) if stage else None
            self.result.log = _rel_log(log, self.ctx.cell_dir)

    def _finish(self) -> CellResult:
        result = self.result
        result.stages = self.records
        self.state.harness_version = __version__
        result.facts = self.state
        self._remember(result)
        result.finished_at = utc_now()
        result.duration_s = round(time.monotonic() - self.start, 3)
        try:
            write_cell_junit(result, self.ctx.cell_dir, [self.ctx.cell_dir / PYTEST_JUNIT])
        except Exception as exc:  # the result must still be recorded
            self._harness_error(exc)
        self.runner.store.write_result(result)
        return result

    def _remember(self, result: CellResult) -> None:
        """Record a verdict in the result cache; a key whose verdicts now disagree makes the cell flaky."""
        cache, key = self.runner.cache, self.state.cache_key
        if cache is None or key is None or result.cached_from is not None or result.outcome not in VERDICTS:
            return
        result.finished_at = utc_now()
        result.flaky = flaky(cache.record(key, result, self.ctx.cell_dir))


def cell_env(cell: Cell, env: dict[str, str]) -> dict[str, str]:
    """A cell's stage environment: a CPU cell never sees a GPU (torch and vLLM would pick CUDA)."""
    return env | {"CUDA_VISIBLE_DEVICES": ""} if cell.gpu == "cpu" else env


def stage_status(exc: BaseException) -> tuple[str, str]:
    """How a stage that raised ``exc`` is recorded: its status and message."""
    if isinstance(exc, StageSkipped):
        return "skip", exc.reason
    if isinstance(exc, StageFailed | StageError):
        return ("fail" if isinstance(exc, StageFailed) else "error"), exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted"
    return "error", f"{type(exc).__name__}: {exc}"


def read_marker(venv: Path) -> BuiltVenv | None:
    """The venv's completion marker, or None (absent, half-written by an old version, unreadable)."""
    try:
        return from_data(json.loads((venv / MARKER).read_text(encoding="utf-8")), BuiltVenv)
    except (OSError, ValueError, SerialError):
        return None


def _clear_previous(cell_dir: Path) -> None:
    """A cell that runs again starts with empty logs (its old result is replaced at the end)."""
    logs = cell_dir / "logs"
    if logs.is_dir():
        for path in logs.iterdir():
            path.unlink(missing_ok=True)
    (cell_dir / PYTEST_JUNIT).unlink(missing_ok=True)


def _rel_log(log: Path | None, cell_dir: Path) -> str | None:
    if log is None or not log.exists():
        return None
    try:
        return str(log.relative_to(cell_dir))
    except ValueError:
        return str(log)


def diagnose(log: Path, stage: str, catalogues: Sequence[Path]) -> tuple[Diagnosis | None, str | None]:
    """The classifier's diagnosis of a failed stage's log and its hint.

    A user catalogue that does not parse leaves the class empty and says so in the hint: never a guess.
    """
    try:
        diagnosis = classify_file(log, stage=stage, catalogues=tuple(catalogues))
    except MatrixError as exc:
        return None, f"the classifier failed: {exc}"
    return diagnosis, diagnosis.hint


def describe(result: CellResult) -> str:
    """One line: ``fail at build (NVCC_UNSUPPORTED_ARCH): ... (12.3s)``."""
    where = f" at {result.stage}" if result.stage and result.outcome != "pass" else ""
    klass = f" ({result.klass})" if result.klass else ""
    message = f": {result.message}" if result.message and result.outcome != "pass" else ""
    soft = " [experimental]" if result.experimental and result.outcome == "fail" else ""
    return f"{result.outcome}{where}{klass}{message}{soft} ({result.duration_s:.1f}s)"


def exit_code(results: Iterable[CellResult]) -> int:
    """3 if any cell hit a harness error, else 1 if a non-experimental cell failed, else 0.

    An experimental cell's failure is reported but does not fail the run (like
    GitHub's continue-on-error or Buildkite's soft_fail).
    """
    results = list(results)
    if any(r.outcome == "error" for r in results):
        return EXIT_HARNESS
    if any(r.counts_as_failure for r in results):
        return EXIT_CELL_FAILED
    return EXIT_OK

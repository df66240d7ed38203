"""What every stage shares: the context it runs in, bound to it, and the ways it can end a cell early.

A stage is a function ``run(ctx: StageContext) -> None`` (``stages.pipeline``
lists them). ``ctx`` is bound to the running stage: ``ctx.run`` / ``ctx.check``
log to ``<cell_dir>/logs/<stage>.log`` under the stage's timeout from
matrix.toml, ``ctx.note`` adds a line to that log, and ``ctx.state`` is the
cell's typed ``CellState`` that the stage fills in. A stage ends the cell by
raising ``StageFailed`` (a verdict about the cell; ``ctx.fail`` makes one),
``StageSkipped`` or ``StageError`` (the machine cannot run it). Any other
exception is a harness bug: the runner records the cell as ``error`` and goes
on with the next cell.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vllm_matrix import fileio
from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.proc import ProcResult, run_logged
from vllm_matrix.stages.state import CellState
from vllm_matrix.workdir import Workdir


class StageFailed(Exception):
    """The cell failed at ``stage``: a verdict about vLLM/torch, not a harness bug.

    ``klass`` is given only when the stage itself knows the class (e.g.
    TORCH_OVERRIDDEN); otherwise the runner classifies ``log``.
    """

    def __init__(
        self,
        stage: str,
        message: str,
        *,
        log: Path | None = None,
        klass: str | None = None,
        evidence: Sequence[str] = (),
    ) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message
        self.log = log
        self.klass = klass
        self.evidence = tuple(evidence)


class StageSkipped(Exception):
    """The cell cannot run here or now (e.g. the nightly date is not on the index)."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


class StageError(Exception):
    """The harness cannot run the stage here (too little disk, payload missing): outcome ``error``.

    Neither a verdict about vLLM nor a skip: the user must fix the machine or the tool.
    """

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message


@dataclass(frozen=True)
class StageContext:
    """One stage's view of its cell: where it writes, what it runs with, and the cell's state."""

    stage: str
    cell: Cell
    config: MatrixConfig
    work: Workdir
    cell_dir: Path
    env: Mapping[str, str]
    state: CellState = field(default_factory=CellState)
    hardware: Hardware = field(default_factory=Hardware)
    run_name: str = ""  # the run this cell belongs to (reports/<run>/)

    def bound(self, stage: str) -> StageContext:
        """The same cell's context for another stage (the state is shared, not copied)."""
        return dataclasses.replace(self, stage=stage)

    @property
    def venv(self) -> Path:
        """The cell's venv: the resolved build key's once resolve ran, else the unresolved group's."""
        return Path(self.state.venv) if self.state.venv else self.work.venvs / self.cell.build_group

    @property
    def python(self) -> Path:
        """The cell venv's interpreter."""
        return self.venv / "bin" / "python"

    @property
    def tool_path(self) -> str:
        """PATH for builds: the venv's bin, an existing torch's bin (its cmake, ninja), the caller's.

        An existing torch's packages reach the venv through a ``.pth``, so the build requirements
        it already has are not installed again; their console scripts stay in its own bin.
        """
        dirs = [str(self.venv / "bin")]
        torch = self.state.torch
        if torch is not None and torch.existing and torch.interpreter:
            dirs.append(str(Path(torch.interpreter).parent))
        return os.pathsep.join([*dirs, self.env.get("PATH", "")])

    @property
    def log(self) -> Path:
        """This stage's log file."""
        return self.log_of(self.stage)

    def log_of(self, stage: str) -> Path:
        """Another stage's log file in this cell."""
        return self.cell_dir / "logs" / f"{stage}.log"

    @property
    def timeout(self) -> float:
        """This stage's timeout from matrix.toml [timeouts]."""
        return float(self.config.timeouts[self.stage])

    def note(self, line: str) -> None:
        """Add one line of the harness's own to this stage's log."""
        fileio.append(self.log, line)

    def fail(self, message: str, *, klass: str | None = None, evidence: Sequence[str] = ()) -> StageFailed:
        """A verdict of this stage, pointing at its log (raise it)."""
        return StageFailed(self.stage, message, log=self.log, klass=klass, evidence=evidence)

    def run(
        self, argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> ProcResult:
        """Run ``argv`` logged to this stage's log, with ``ctx.env`` overlaid by ``env``."""
        return run_logged(
            [str(a) for a in argv],
            self.log,
            timeout_s=self.timeout,
            env={**self.env, **(env or {})},
            cwd=cwd,
            children=self.work.children,
            label=f"{self.cell.id}/{self.stage}",
        )

    def check(
        self,
        argv: Sequence[str | Path],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        what: str,
    ) -> ProcResult:
        """``run``, raising StageFailed naming ``what`` unless it exited 0 in time."""
        result = self.run(argv, env=env, cwd=cwd)
        if not result.ok:
            raise self.fail(f"{what} failed ({result.describe()})")
        return result

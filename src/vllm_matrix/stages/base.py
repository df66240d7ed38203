"""What every stage shares: the context it runs in and the two ways it can end a cell early.

A stage is a module with ``run(ctx: StageContext) -> None``. It runs its
subprocesses through ``ctx.run`` / ``ctx.check`` (logged to
``<cell_dir>/logs/<stage>.log`` with the stage's timeout from matrix.toml),
writes the facts it learns into ``ctx.record`` (they end up in result.json),
and raises ``StageFailed`` (a verdict about the cell), ``StageSkipped`` or
``StageError`` (the machine cannot run it). Any other exception is a harness
bug: the runner records the cell as ``error`` and goes on with the next cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.proc import ProcResult, run_logged
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


@dataclass
class StageContext:
    """Everything a stage needs; ``record`` collects the facts for result.json."""

    cell: Cell
    config: MatrixConfig
    work: Workdir
    cell_dir: Path
    venv: Path
    env: dict[str, str]
    record: dict[str, Any] = field(default_factory=dict)
    hardware: Hardware = field(default_factory=Hardware)
    run_name: str = ""  # the run this cell belongs to (reports/<run>/)

    @property
    def python(self) -> Path:
        """The cell venv's interpreter."""
        return self.venv / "bin" / "python"

    def log_path(self, stage: str) -> Path:
        """The stage's log file."""
        return self.cell_dir / "logs" / f"{stage}.log"

    def timeout(self, stage: str) -> float:
        """The stage's timeout from matrix.toml [timeouts]."""
        return float(self.config.timeouts[stage])

    def run(
        self,
        stage: str,
        argv: Sequence[str | Path],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ProcResult:
        """Run ``argv`` logged to the stage's log, with ``ctx.env`` overlaid by ``env``."""
        full_env = {**self.env, **(env or {})}
        return run_logged(
            [str(a) for a in argv],
            self.log_path(stage),
            timeout_s=self.timeout(stage),
            env=full_env,
            cwd=cwd,
        )

    def check(
        self,
        stage: str,
        argv: Sequence[str | Path],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        what: str,
    ) -> ProcResult:
        """``run``, raising StageFailed naming ``what`` unless it exited 0 in time."""
        result = self.run(stage, argv, env=env, cwd=cwd)
        if not result.ok:
            raise StageFailed(stage, f"{what} failed ({result.describe()})", log=result.log)
        return result


Stage = Callable[[StageContext], None]

"""PIPELINE: the stages every cell goes through, in order, and which of them a cell runs.

This is the only list of stage implementations; its names are ``matrix.names.STAGES``
(a test holds the two together). ``installs`` stages make the build-key venv: a
later cell with the same resolved build key reuses them once they finished.
``when`` says which sources a stage is for: prepare only for a vLLM tree (``git:``,
``path:``), build for anything compiled (a vLLM tree, the toolchain probe), suites for
anything with a vLLM to run them on; a prebuilt wheel has no prepare or build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.specs import Source
from vllm_matrix.stages import build, prepare, resolve, source, suites, torch, venv, verify
from vllm_matrix.stages.base import StageContext

Run = Callable[[StageContext], None]


def _always(source: Source) -> bool:
    return True


@dataclass(frozen=True)
class Stage:
    """One stage: its name, what it runs, its place in the build-key venv, and the sources it is for."""

    name: str
    run: Run
    installs: bool = False
    when: Callable[[Source], bool] = _always

    def applies(self, cell: Cell) -> bool:
        """Whether ``cell`` runs this stage."""
        return self.when(cell.source)


PIPELINE: tuple[Stage, ...] = (
    Stage("resolve", resolve.run),
    Stage("venv", venv.run, installs=True),
    Stage("torch", torch.run, installs=True),
    Stage("source", source.run, installs=True),
    Stage("prepare", prepare.run, installs=True, when=lambda s: s.vllm_tree),
    Stage("build", build.run, installs=True, when=lambda s: s.builds),
    Stage("verify", verify.run),
    Stage("suites", suites.run, when=lambda s: s.runs_suites),
)
INSTALL = tuple(s.name for s in PIPELINE if s.installs)


def stages_for(cell: Cell) -> tuple[Stage, ...]:
    """The stages ``cell`` runs, in order."""
    return tuple(s for s in PIPELINE if s.applies(cell))

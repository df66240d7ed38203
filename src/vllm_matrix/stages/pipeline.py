"""PIPELINE: the stages every cell goes through, in order, and which of them a cell runs.

This is the only list of stage implementations; its names are ``matrix.names.STAGES``
(a test holds the two together). ``installs`` stages make the build-key venv: a
later cell with the same resolved build key reuses them once they finished.
``builds`` stages exist only for sources that are built (``git:``, ``path:``):
a prebuilt wheel has no prepare or build.

``preflight_for`` is the configure-only variant (``vllm-matrix run --until
configure``): the same stages up to the build, whose place the ref's CMake
configure takes (``stages.configure``: still named ``build``, but installing
nothing a later cell could reuse), and nothing after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from vllm_matrix.matrix.cell import Cell
from vllm_matrix.stages import build, configure, prepare, resolve, source, suites, torch, venv, verify
from vllm_matrix.stages.base import StageContext

Run = Callable[[StageContext], None]


@dataclass(frozen=True)
class Stage:
    """One stage: its name, what it runs, and its place in the build-key venv."""

    name: str
    run: Run
    installs: bool = False
    builds: bool = False

    def applies(self, cell: Cell) -> bool:
        """Whether ``cell`` runs this stage."""
        return cell.source.builds or not self.builds


PIPELINE: tuple[Stage, ...] = (
    Stage("resolve", resolve.run),
    Stage("venv", venv.run, installs=True),
    Stage("torch", torch.run, installs=True),
    Stage("source", source.run, installs=True),
    Stage("prepare", prepare.run, installs=True, builds=True),
    Stage("build", build.run, installs=True, builds=True),
    Stage("verify", verify.run),
    Stage("suites", suites.run),
)
INSTALL = tuple(s.name for s in PIPELINE if s.installs)


def stages_for(cell: Cell) -> tuple[Stage, ...]:
    """The stages ``cell`` runs, in order."""
    return tuple(s for s in PIPELINE if s.applies(cell))


UNTIL = ("configure",)  # what ``--until`` accepts


def preflight_for(cell: Cell) -> tuple[Stage, ...]:
    """The stages of a configure-only preflight: those before verify, the build only configuring."""
    stages: list[Stage] = []
    for stage in stages_for(cell):
        if stage.name == "verify":
            break
        configure_only = dataclasses.replace(stage, run=configure.run, installs=False)
        stages.append(configure_only if stage.name == "build" else stage)
    return tuple(stages)

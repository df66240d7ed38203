"""Bisect a cell over torch nightly dates: candidates from the index, one cell run per date.

The loop and its state are ``bisection``; this module only says what a
candidate is (a nightly date present on the cell's index) and how it is
tested (the runner runs the cell with ``torch = nightly:<date>``), and reads
the torch commits of the two ends from their results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_matrix.bisection import (
    Bisection,
    BisectResult,
    Verdict,
    bisect_loop,
    candidates_between,
    save_state,
)
from vllm_matrix.errors import HarnessError, InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.nightly import commits as nightly_git
from vllm_matrix.nightly import resolve as nightly
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.results import CellResult
from vllm_matrix.runner import Runner
from vllm_matrix.stages.state import CellState

VERDICT_OF_OUTCOME: dict[str, Verdict] = {"pass": "good", "fail": "bad", "skip": "skip"}


@dataclass(frozen=True)
class Ends:
    """What the user says: the cell, and a good and a bad nightly date."""

    cell: Cell
    good: dt.date
    bad: dt.date


def candidate_dates(config: MatrixConfig, ends: Ends, environ: Mapping[str, str],
                    client: IndexClient | None = None) -> list[str]:  # fmt: skip
    """Nightly dates on the cell's index from good to bad, both ends included."""
    if ends.cell.torch_spec.kind == "release":
        raise InputError(f"cell {ends.cell.id} pins the release torch {ends.cell.torch}: nothing to bisect")
    index = config.index("nightly").effective(environ)
    wheels = nightly.resolve_range(ends.good, ends.bad, ends.cell.cuda, ends.cell.python.rstrip("t"), index,
                                   client=client)  # fmt: skip
    dates = sorted({w.date.isoformat() for w in wheels if w.date is not None})
    return candidates_between(dates, ends.good.isoformat(), ends.bad.isoformat())


def cell_for(cell: Cell, date: str) -> Cell:
    """The cell with its torch pinned to one nightly date (its own id, its own result)."""
    return dataclasses.replace(cell, id=f"{cell.id}_n{date.replace('-', '')}", torch=f"nightly:{date}")


def tester(runner: Runner, cell: Cell, results: dict[str, CellResult]) -> Callable[[str], Verdict]:
    """A test function for the loop: run the cell on one date, map its outcome to a verdict."""

    def test(date: str) -> Verdict:
        result = runner.run_cell(cell_for(cell, date))
        results[date] = result
        if result.outcome == "interrupted":
            raise KeyboardInterrupt
        if result.outcome not in VERDICT_OF_OUTCOME:
            raise HarnessError(
                f"{date}: the harness failed ({result.message}); see {result.id}'s result.json"
            )
        return VERDICT_OF_OUTCOME[result.outcome]

    return test


def run_bisection(runner: Runner, ends: Ends, candidates: list[str], state_path: Path,
                  say: Callable[[str], None]) -> tuple[BisectResult, dict[str, CellResult]]:  # fmt: skip
    """Bisect (resuming from ``state_path`` when it exists); every verdict is saved at once."""
    state = _load_or_new(state_path, candidates)
    results: dict[str, CellResult] = {}
    outcome = bisect_loop(state, tester(runner, ends.cell, results), save=save_state(state_path), say=say)
    for date in (outcome.last_good, outcome.first_bad):
        if date not in results:
            kept = runner.store.read_result(cell_for(ends.cell, date).id)
            if kept is not None:
                results[date] = kept
    return outcome, results


def _load_or_new(path: Path, candidates: list[str]) -> Bisection:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        return Bisection(list(candidates))
    state = Bisection.from_json(path.read_text(encoding="utf-8"))
    if state.candidates != candidates:
        raise InputError(f"{path} holds a bisection over other candidates; remove it or pass another --run")
    return state


def torch_commits(results: Mapping[str, CellResult], outcome: BisectResult) -> dict[str, Any]:
    """The torch versions and nightly commits at both ends, and a compare URL where known."""
    good, bad = results.get(outcome.last_good), results.get(outcome.first_bad)
    info: dict[str, Any] = {"last_good": outcome.last_good, "first_bad": outcome.first_bad,
                            "skipped": list(outcome.skipped), "tested": outcome.tested}  # fmt: skip
    for name, result in (("good", good), ("bad", bad)):
        facts = result.facts if result else CellState()
        info[f"{name}_torch"] = facts.torch_version or (facts.torch.version if facts.torch else None)
        info[f"{name}_git_version"] = facts.torch_git_version
    if info["good_git_version"] and info["bad_git_version"]:
        info["nightly_compare_url"] = nightly_git.compare_url(
            info["good_git_version"], info["bad_git_version"]
        )
    return info


def main_branch_compare(info: dict[str, Any], pytorch_repo: Path | None) -> str | None:
    """With a local pytorch checkout, the compare URL between the main-branch commits."""
    good, bad = info.get("good_git_version"), info.get("bad_git_version")
    if not (pytorch_repo and good and bad):
        return None
    good_msg = nightly_git.message_from_checkout(pytorch_repo, good)
    bad_msg = nightly_git.message_from_checkout(pytorch_repo, bad)
    return nightly_git.nightly_compare_url(good_msg, bad_msg)

"""One step: the candidate's cell run through the runner, retried when asked, judged by the rule.

Every attempt is an ordinary cell with its own result in the run store, and the result
cache serves it when its resolved inputs already have a verdict (a second bisection over
an overlapping range runs nothing that has a result). ``--retries N`` runs a step that did
not pass up to N more times, fresh (the cache would only repeat it); a step whose attempts
disagree, or whose inputs the cache already knows to be flaky, is ``flaky``: reported, and
never taken as a verdict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from vllm_matrix.bisect import badon
from vllm_matrix.bisect.badon import BadOn, Judgement, Reference
from vllm_matrix.bisect.space import Space, step_cell
from vllm_matrix.bisect.state import Resolved, Step, Verdict
from vllm_matrix.errors import HarnessError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.results import CellResult
from vllm_matrix.runner import Runner

End = str  # "good" or "bad": the end a step checks, "" for the steps in between


@dataclass
class Tester:
    """Runs and judges the steps of one bisection."""

    runner: Runner
    config: MatrixConfig
    base: Cell
    space: Space
    rule: BadOn
    retries: int = 0
    reference: Reference = field(default_factory=Reference)

    def cell(self, label: str, prebuilt: str | None = None) -> Cell:
        """The step's cell: the bisected cell at this candidate (over a prebuilt vLLM when given)."""
        candidate = self.space.get(label)
        changes = {self.space.field: candidate.value}
        if prebuilt is not None:
            changes["vllm"] = prebuilt
        return step_cell(self.config, self.base, changes, candidate.suffix + ("_pb" if prebuilt else ""))

    def step(self, label: str, prebuilt: str | None = None, end: End = "") -> Step:
        """Run the candidate's cell (and its retries) and judge it; an end first teaches the rule."""
        cell = self.cell(label, prebuilt)
        first = self._attempt(cell, fresh=False)
        if end:
            self.reference = badon.learn(self.rule, self.reference, end, first)
        attempts = [(first, self._judge(first))]
        while self._retry(attempts):
            again = self._attempt(
                dataclasses.replace(cell, id=f"{cell.id}_try{len(attempts) + 1}"), fresh=True
            )
            attempts.append((again, self._judge(again)))
        return _step(label, prebuilt is not None, attempts)

    def _retry(self, attempts: list[tuple[CellResult, Judgement]]) -> bool:
        result, judgement = attempts[-1]
        if len(attempts) > self.retries or _disagree(attempts) or result.flaky:
            return False
        return result.outcome == "fail" or judgement.verdict == "bad"

    def _attempt(self, cell: Cell, *, fresh: bool) -> CellResult:
        runner = self.runner
        if fresh:  # run it, whatever the cache holds, and rebuild a build that failed before
            options = dataclasses.replace(runner.options, no_cache=True)
            runner = dataclasses.replace(runner, options=options, failed_builds={})
        result = runner.run_cell(cell)
        if result.outcome == "error":
            raise HarnessError(
                f"bisect: step {cell.id}: the harness failed ({result.message}); see its result.json"
            )
        return result

    def _judge(self, result: CellResult) -> Judgement:
        return badon.judge(self.rule, self.reference, result)


def _disagree(attempts: list[tuple[CellResult, Judgement]]) -> bool:
    return len({j.verdict for _, j in attempts}) > 1


def _step(label: str, prebuilt: bool, attempts: list[tuple[CellResult, Judgement]]) -> Step:
    """The step of a candidate from its attempts: the verdict they agree on, else flaky."""
    last, judgement = attempts[-1]
    verdict: Verdict = judgement.verdict
    reason = judgement.reason
    if _disagree(attempts):
        verdict, reason = (
            "flaky",
            "its runs disagree: " + "; ".join(f"{j.verdict} ({j.reason})" for _, j in attempts),
        )
    elif any(r.flaky for r, _ in attempts):
        verdict, reason = (
            "flaky",
            f"these inputs have had different verdicts before (result cache); now: {reason}",
        )
    ran = [r for r, _ in attempts if executed(r)]
    cached = sum(1 for r, _ in attempts if r.cached_from is not None)
    return Step(label, verdict, reason, last.id, prebuilt, ran=len(ran), cached=cached,
                built=sum(1 for r in ran if _built(r)), resolved=resolved(last))  # fmt: skip


def executed(result: CellResult) -> bool:
    """Whether the cell ran any stage here (not a verdict the cache repeated, not an n/a cell)."""
    return result.cached_from is None and bool(result.stages)


def _built(result: CellResult) -> bool:
    """Whether this attempt built vLLM from source (a build stage that ran, not reused or cached)."""
    return any(
        s.name == "build"
        and s.status in ("pass", "fail")
        and not (s.message or "").startswith("same build as")
        for s in result.stages
    )


def resolved(result: CellResult) -> Resolved:
    """The torch and vLLM a result ran."""
    facts = result.facts
    torch = facts.torch_version or (facts.torch.version if facts.torch else None)
    vllm_version = facts.vllm_version or (facts.vllm.version if facts.vllm else None)
    return Resolved(torch, facts.torch_git_version, facts.vllm_commit, vllm_version)

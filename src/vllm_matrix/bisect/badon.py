"""What counts as bad (``--bad-on``), and the verdict of one step's result under that rule.

Rules: the default, the same failure signature as the bad end (stage, class, evidence with
numbers and paths normalised); ``class=NAME`` (a failure class of the catalogue);
``test=ID`` (a payload test, as pytest names it: ``kernels/test_activation.py::test_silu``,
or a module or class prefix of one); ``stage=NAME`` (the cell fails at that stage); and a
figure threshold for a performance regression, ``decode_tok_s<0.9*good`` (relative to the
figure measured on the good end, as pytorch/benchmark's bisector and TritonBench judge) or
``ttft_s>0.5`` (absolute).

A step that is neither good nor bad as the rule defines it is a ``skip`` with its reason, as
``git bisect run``'s exit 125: a nightly missing from the index, a cell that is n/a, a
failure of another class or at an earlier stage, a failure before a figure was recorded.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from vllm_matrix.bisect import figures, signature
from vllm_matrix.bisect.figures import FIGURES
from vllm_matrix.bisect.signature import Signature
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.names import STAGES
from vllm_matrix.results import CellResult

Kind = Literal["signature", "class", "test", "stage", "metric"]
Judged = Literal["good", "bad", "skip"]
FORMS = "class=NAME, test=ID, stage=NAME or a figure threshold such as decode_tok_s<0.9*good"
_METRIC = re.compile(
    r"^(?P<name>[a-z_][a-z0-9_]*)\s*(?P<op><=|>=|<|>)\s*"
    r"(?:(?P<factor>\d+(?:\.\d+)?)\s*\*\s*)?(?P<base>good|\d+(?:\.\d+)?)$"
)
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}  # fmt: skip


@dataclass(frozen=True)
class BadOn:
    """A rule for "bad"; ``text`` is how the user wrote it (empty: the default)."""

    kind: Kind
    value: str = ""  # the class, test id, stage or figure name
    op: str = ""  # metric: <, <=, >, >=
    threshold: float = 0.0  # metric: the factor of the good end's figure (relative) or the figure itself
    relative: bool = False
    text: str = ""

    def describe(self) -> str:
        """The rule in words, for progress lines and the result."""
        if self.kind == "signature":
            return "the same failure as the bad end"
        return self.text


@dataclass(frozen=True)
class Reference:
    """What the ends taught the rule: the bad end's signature, the good end's figure."""

    signature: Signature | None = None
    baseline: float | None = None


@dataclass(frozen=True)
class Judgement:
    """A step's verdict under the rule, and the reason in one line."""

    verdict: Judged
    reason: str


def parse(text: str | None, classes: Collection[str]) -> BadOn:
    """``--bad-on`` as a rule; InputError (one line) for anything else. ``classes``: the known ones."""
    if not text:
        return BadOn("signature")
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if sep and key in ("class", "test", "stage") and value:
        _check(key, value, classes)
        return BadOn(key, value, text=text)  # type: ignore[arg-type]
    metric = _METRIC.match(text.replace(" ", ""))
    if metric is None:
        raise InputError(f"--bad-on: expected {FORMS}, got {text!r}")
    name = metric.group("name")
    if name not in FIGURES:
        raise InputError(f"--bad-on: unknown figure {name!r}{_did_you_mean(name, FIGURES)}")
    relative = metric.group("base") == "good"
    factor = metric.group("factor")
    if not relative and factor is not None:
        raise InputError(
            f"--bad-on: expected FACTOR*good or a number after {metric.group('op')}, got {text!r}"
        )
    threshold = float(factor or 1.0) if relative else float(metric.group("base"))
    return BadOn("metric", name, metric.group("op"), threshold, relative, text)


def _check(key: str, value: str, classes: Collection[str]) -> None:
    if key == "class" and value not in classes:
        raise InputError(f"--bad-on: unknown failure class {value!r}{_did_you_mean(value, classes)}")
    if key == "stage" and value not in STAGES:
        raise InputError(f"--bad-on: unknown stage {value!r} (expected one of {', '.join(STAGES)})")


def _did_you_mean(value: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def learn(rule: BadOn, reference: Reference, end: str, result: CellResult) -> Reference:
    """What an end teaches: the bad end its signature (default rule), the good end its figure."""
    if rule.kind == "signature" and end == "bad":
        return Reference(signature.of(result), reference.baseline)
    if rule.kind == "metric" and rule.relative and end == "good":
        return Reference(reference.signature, figures.of(result).get(rule.value))
    return reference


def judge(rule: BadOn, reference: Reference, result: CellResult) -> Judgement:
    """The verdict of one step's result under ``rule`` (a result in ``error`` is the caller's)."""
    if result.outcome in ("skip", "n/a"):
        return Judgement("skip", f"{result.outcome}: {result.message}")
    if rule.kind == "metric":
        return _metric(rule, reference, result, figures.of(result))
    if result.outcome == "pass":
        return Judgement("good", "passes")
    return _failure(rule, reference, result)


def _failure(rule: BadOn, reference: Reference, result: CellResult) -> Judgement:
    found = signature.of(result)
    assert found is not None  # a failed result has one
    where = found.describe()
    if rule.kind == "signature":
        if reference.signature is None:
            return Judgement("skip", f"fails at {where}, and the bad end's failure is not known yet")
        same = found == reference.signature
        return Judgement(
            "bad" if same else "skip", f"fails {'the same way' if same else 'differently'}: {where}"
        )
    if rule.kind == "class":
        same = result.klass == rule.value
        how = "with" if same else "with another class,"
        return Judgement(
            "bad" if same else "skip", f"fails {how} {result.klass or 'no class'} at {found.stage}"
        )
    if rule.kind == "stage":
        return _stage(rule.value, found)
    return _test(rule.value, result, where)


def _stage(stage: str, found: Signature) -> Judgement:
    if found.stage == stage:
        return Judgement("bad", f"fails at {found.describe()}")
    if found.stage in STAGES and STAGES.index(found.stage) > STAGES.index(stage):
        return Judgement("good", f"{stage} passes (fails later, at {found.describe()})")
    return Judgement("skip", f"fails before {stage} could run: at {found.describe()}")


def _test(test: str, result: CellResult, where: str) -> Judgement:
    suites = result.facts.suites
    if result.stage != "suites" or suites is None or not suites.tests:
        return Judgement("skip", f"fails before the suites ran: at {where}")
    wanted = junit_test_id(test)
    failed = [t for t in suites.failed_tests if _matches(t, wanted)]
    if failed:
        return Judgement(
            "bad", f"{failed[0]} fails ({len(suites.failed_tests)} of {suites.tests} tests failed)"
        )
    return Judgement("good", f"{test} does not fail ({len(suites.failed_tests)} other tests failed)")


def junit_test_id(text: str) -> str:
    """A test as pytest's command line names it, in the form JUnit records failures.

    ``kernels/test_activation.py::TestSilu::test_fp16`` -> ``kernels.test_activation.TestSilu::test_fp16``
    (JUnit's classname, then the name); a form already dotted is left as it is.
    """
    parts = text.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".").strip(".")
    if len(parts) == 1:
        return module
    return ".".join([module, *parts[1:-1]]) + "::" + parts[-1]


def _matches(failed: str, wanted: str) -> bool:
    """The failed test is ``wanted``, or lies inside it (a module or class prefix).

    ``module::Name`` may name a test or a class: as a class, JUnit writes ``module.Name::test``.
    """
    forms = {wanted, wanted.replace("::", ".")}
    return any(failed == w or failed.startswith((f"{w}::", f"{w}.", f"{w}[")) for w in forms)


def _metric(rule: BadOn, reference: Reference, result: CellResult, found: dict[str, float]) -> Judgement:
    value = found.get(rule.value)
    if value is None:
        where = (
            f"fails at {result.stage} ({result.klass or 'unclassified'})"
            if result.outcome == "fail"
            else "passes"
        )
        return Judgement("skip", f"records no {rule.value} figure ({where})")
    if rule.relative and reference.baseline is None:
        return Judgement("skip", f"{rule.value} = {value:g}, but the good end's figure is not known yet")
    limit = rule.threshold * (reference.baseline or 0.0) if rule.relative else rule.threshold
    bad = _OPS[rule.op](value, limit)
    shown = f"{rule.value} = {value:g} ({'' if bad else 'not '}{rule.op} {limit:g})"
    return Judgement("bad" if bad else "good", shown)

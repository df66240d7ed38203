"""What counts as bad: parsing ``--bad-on``, and the verdict of a result under each rule."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from vllm_matrix.bisect import badon, figures
from vllm_matrix.bisect.badon import BadOn, Reference, junit_test_id
from vllm_matrix.bisect.signature import Signature, normalize
from vllm_matrix.bisect.signature import of as signature_of
from vllm_matrix.errors import InputError
from vllm_matrix.results import CellResult
from vllm_matrix.stages.state import CellState, SuiteCounts

CLASSES = {"NO_KERNEL_IMAGE", "ABI_UNDEFINED_SYMBOL", "OTHER"}
ABI = "ImportError: /w/venvs/{key}/lib/python3.12/site-packages/vllm/_C.abi3.so: undefined symbol: _ZN3c10Foo"


def result(outcome: str = "fail", stage: str | None = "verify", klass: str | None = "ABI_UNDEFINED_SYMBOL",
           evidence: str = ABI.format(key="a1"), **facts: Any) -> CellResult:  # fmt: skip
    return CellResult("c_n20261106", "r", outcome, {}, stage=stage, klass=klass, message="it failed",
                      evidence=[evidence], facts=CellState(**facts))  # fmt: skip


def suites(failed: tuple[str, ...] = (), **figures_: float) -> SuiteCounts:
    return SuiteCounts(("kernels",), "pytest-junit.xml", tests=10, failures=len(failed), failed_tests=failed,
                       figures=dict(figures_))  # fmt: skip


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (None, BadOn("signature")),
        ("class=NO_KERNEL_IMAGE", BadOn("class", "NO_KERNEL_IMAGE", text="class=NO_KERNEL_IMAGE")),
        ("stage=build", BadOn("stage", "build", text="stage=build")),
        (
            "test=kernels/test_a.py::t",
            BadOn("test", "kernels/test_a.py::t", text="test=kernels/test_a.py::t"),
        ),
        ("decode_tok_s<0.9*good", BadOn("metric", "decode_tok_s", "<", 0.9, True, "decode_tok_s<0.9*good")),
        ("ttft_s >= 1.5 * good", BadOn("metric", "ttft_s", ">=", 1.5, True, "ttft_s >= 1.5 * good")),
        ("decode_tok_s<good", BadOn("metric", "decode_tok_s", "<", 1.0, True, "decode_tok_s<good")),
        ("ttft_s>0.25", BadOn("metric", "ttft_s", ">", 0.25, False, "ttft_s>0.25")),
    ],
)
def test_parse(text: str | None, rule: BadOn) -> None:
    assert badon.parse(text, CLASSES) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("decode_tok_s<<0.9*good", "expected class=NAME, test=ID, stage=NAME or a figure threshold"),
        ("class=", "expected class=NAME"),
        ("class=NO_KERNEL", "did you mean 'NO_KERNEL_IMAGE'?"),
        ("stage=compile", "unknown stage 'compile'"),
        ("tok_s<0.9*good", "unknown figure 'tok_s'"),
        ("decode_tok_s<0.9*250", "expected FACTOR*good or a number"),
    ],
)
def test_parse_refuses_with_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("*", r"\*").replace("?", r"\?")):
        badon.parse(text, CLASSES)


def test_the_default_rule_is_the_bad_ends_signature() -> None:
    rule = BadOn("signature")
    bad_end = result()
    ref = badon.learn(rule, Reference(), "bad", bad_end)
    assert ref.signature == Signature(
        "verify", "ABI_UNDEFINED_SYMBOL", "ImportError: <path>: undefined symbol: _ZN3c10Foo"
    )
    same = result(evidence=ABI.format(key="b2"))  # another venv, the same failure
    assert badon.judge(rule, ref, same).verdict == "bad"
    other = result(stage="build", klass="CMAKE_CONFIGURE", evidence="CMake Error at CMakeLists.txt:12")
    assert badon.judge(rule, ref, other) == badon.Judgement(
        "skip", "fails differently: build (CMAKE_CONFIGURE): CMake Error at CMakeLists.txt:<n>")  # fmt: skip
    assert badon.judge(rule, ref, result(outcome="pass", stage=None, klass=None)).verdict == "good"


@pytest.mark.parametrize(
    ("outcome", "message"), [("skip", "cu130 has no nightly for 2026-11-03"), ("n/a", "x")]
)
def test_what_could_not_run_is_a_skip_under_every_rule(outcome: str, message: str) -> None:
    r = CellResult("c", "r", outcome, {}, message=message)
    for rule in (BadOn("signature"), BadOn("class", "OTHER"), BadOn("metric", "ttft_s", ">", 1.0)):
        assert badon.judge(rule, Reference(), r) == badon.Judgement("skip", f"{outcome}: {message}")


def test_a_class_rule() -> None:
    rule = BadOn("class", "NO_KERNEL_IMAGE")
    assert badon.judge(rule, Reference(), result(klass="NO_KERNEL_IMAGE")).verdict == "bad"
    other = badon.judge(rule, Reference(), result())
    assert (
        other.verdict == "skip" and other.reason == "fails with another class, ABI_UNDEFINED_SYMBOL at verify"
    )


@pytest.mark.parametrize(
    ("stage", "verdict"), [("verify", "bad"), ("build", "good"), ("suites", "skip")]
)  # a failure at verify
def test_a_stage_rule(stage: str, verdict: str) -> None:
    assert badon.judge(BadOn("stage", stage), Reference(), result()).verdict == verdict


def test_a_test_rule() -> None:
    rule = BadOn("test", "kernels/test_activation.py::TestSilu")
    failed = result(
        stage="suites", klass="NUMERICS", suites=suites(("kernels.test_activation.TestSilu::test_fp16",))
    )
    assert badon.judge(rule, Reference(), failed).verdict == "bad"
    others = result(stage="suites", klass="NUMERICS", suites=suites(("kernels.test_norm::test_rms",)))
    assert badon.judge(rule, Reference(), others).reason.endswith("does not fail (1 other tests failed)")
    early = badon.judge(rule, Reference(), result())
    assert early.verdict == "skip" and "before the suites ran" in early.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kernels/test_activation.py::test_silu[fp16]", "kernels.test_activation::test_silu[fp16]"),
        ("kernels/test_a.py::TestX::test_y", "kernels.test_a.TestX::test_y"),
        ("kernels/test_a.py", "kernels.test_a"),
        ("kernels.test_a::test_y", "kernels.test_a::test_y"),
    ],
)
def test_junit_test_id(text: str, expected: str) -> None:
    assert junit_test_id(text) == expected


def test_a_figure_rule_relative_to_the_good_end() -> None:
    rule = badon.parse("decode_tok_s<0.9*good", CLASSES)
    good_end = result(outcome="pass", stage=None, klass=None, suites=suites(decode_tok_s=300.0))
    ref = badon.learn(rule, Reference(), "good", good_end)
    assert ref.baseline == 300.0
    slow = result(outcome="pass", stage=None, klass=None, suites=suites(decode_tok_s=250.0))
    assert badon.judge(rule, ref, slow) == badon.Judgement("bad", "decode_tok_s = 250 (< 270)")
    assert badon.judge(rule, ref, good_end) == badon.Judgement("good", "decode_tok_s = 300 (not < 270)")
    broken = badon.judge(rule, ref, result())
    assert (
        broken.verdict == "skip"
        and broken.reason == "records no decode_tok_s figure (fails at verify (ABI_UNDEFINED_SYMBOL))"
    )


def test_normalize_takes_out_what_differs_between_steps() -> None:
    line = ("torch 2.13.0.dev20261106+cu130 was replaced by 2.99.0 during source (3 of 120 tests) at "
            "0x7ffe12 sha deadbeef12; see http://127.0.0.1:42/whl/x.whl and /tmp/w/venvs/k/log")  # fmt: skip
    assert normalize(line) == ("torch <version> was replaced by <version> during source (<n> of <n> tests) "
                               "at <addr> sha <sha>; see <url> and <path>")  # fmt: skip
    assert normalize("undefined symbol: _ZN3c1017RegisterOperatorsD1Ev on sm_120") == (
        "undefined symbol: _ZN3c1017RegisterOperatorsD1Ev on sm_120")  # fmt: skip
    assert signature_of(result(outcome="pass")) is None


def test_the_figure_names_are_those_the_payload_records() -> None:
    payload = Path(figures.__file__).resolve().parent.parent / "payload"
    recorded: set[str] = set()
    for path in (payload / "payload_common" / "figures.py", payload / "generation" / "test_speed.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            keys = (
                node.keys
                if isinstance(node, ast.Dict)
                else [node.slice]
                if isinstance(node, ast.Subscript)
                else []
            )
            recorded |= {k.value for k in keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    assert set(figures.FIGURES) <= recorded
    assert {"decode_tok_s", "ttft_s", "kv_cache_gib", "peak_rss_gib"} <= recorded

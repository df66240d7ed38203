"""Line matching with literal needles gives exactly the regex's answer, only faster."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_matrix.classify import catalogue
from vllm_matrix.classify.linematch import Block, compile_matcher


@pytest.mark.parametrize(
    ("pattern", "needles"),
    [
        (r"nvcc fatal\s*: Unsupported gpu architecture", [(": Unsupported gpu architecture", False)]),
        (r"(?i)\btorch (was )?(replaced|overridden)\b", [("replaced", True), ("overridden", True)]),
        (r"\w(Error|Exception)\b", [("rror", False), ("xception", False)]),  # the parser factors out "E"
        (r"(?i:\bfatal\b)|Traceback", [("fatal", True), ("Traceback", False)]),
        (r"^\s*Killed(\s+.*)?$", [("Killed", False)]),
        (r"(ab)+cdef", [("cdef", False)]),
        (r"x?y?z?", []),  # nothing required
        (r"(foo|\d+)bar", [("bar", False)]),  # a branch without a literal gives no needle
        (r"(foo|\d+)xy", []),  # and "xy" is too short to be worth it
    ],
)
def test_needles_every_match_must_contain(pattern: str, needles: list[tuple[str, bool]]) -> None:
    assert list(compile_matcher(re.compile(pattern, re.MULTILINE)).needles) == needles


def test_every_builtin_catalogue_pattern_gets_a_prefilter_on_this_cpython() -> None:
    # If CPython's private regex parser changed shape, patterns would silently lose their needles.
    patterns = [p for s in catalogue.builtin().signatures for p in s.patterns]
    bare = [p.pattern for p in patterns if not compile_matcher(p).needles]
    assert patterns and not bare, f"no needles on {sys.version.split()[0]}: {bare}"


TEXT = (
    "  [1/9] Building CUDA object a.cu.o\n"
    "  CMake Warning: torch was Replaced? no\n"
    "  nvcc fatal   : Unsupported gpu architecture 'compute_120'\n"
    "KeyError: 'x'\n"
    "  [2/9] Building CUDA object b.cu.o\n"
)


def test_first_last_and_every_line() -> None:
    block = Block(TEXT)
    nvcc = compile_matcher(re.compile(r"nvcc fatal\s*: Unsupported", re.MULTILINE))
    assert nvcc.first(block) == TEXT.index("  nvcc fatal")
    assert nvcc.first(block, TEXT.index("KeyError")) is None
    building = compile_matcher(re.compile(r"\[\d+/\d+\] Building", re.MULTILINE))
    assert list(building.every(block)) == [0, TEXT.index("  [2/9]")]
    err = compile_matcher(re.compile(r"(?i:\bfatal\b)|\w(Error|Exception)\b", re.MULTILINE))
    assert err.last(block) == TEXT.index("KeyError")
    assert err.last(block, accept=lambda line: "KeyError" not in line) == TEXT.index("  nvcc fatal")
    icase = compile_matcher(re.compile(r"(?i)torch was replaced", re.MULTILINE))
    assert icase.first(block) == TEXT.index("  CMake Warning")


def test_lower_casing_that_moves_offsets_falls_back_to_the_regex() -> None:
    text = "\u0130stanbul line one\nFATAL: here\n"  # 'İ'.lower() is two characters long
    matcher = compile_matcher(re.compile(r"(?i)\bfatal\b", re.MULTILINE))
    assert Block(text).haystack(True) is None
    assert matcher.first(Block(text)) == text.index("FATAL")


LINES = st.lists(
    st.sampled_from(
        ["ok", "error: x", "Error", "fatal error", "KeyError: 1", "torch was replaced", "warn", "", "İ FATAL"]
    ),
    max_size=30,
)


PATTERNS = st.sampled_from([r"(?i:\b(error|fatal)\b)|\w(Error)\b", r"(?i)torch (was )?replaced", r"^fatal"])


@settings(max_examples=200, deadline=None)
@given(LINES, PATTERNS)
def test_same_lines_as_a_plain_regex_scan(lines: list[str], pattern: str) -> None:
    text = "".join(line + "\n" for line in lines)
    compiled = re.compile(pattern, re.MULTILINE)
    expected = [i for i, line in enumerate(lines) if compiled.search(line)]
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    got = [starts.index(s) for s in compile_matcher(compiled).every(Block(text))]
    assert got == expected
    last = compile_matcher(compiled).last(Block(text))
    assert last == (starts[expected[-1]] if expected else None)

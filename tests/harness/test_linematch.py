"""Line matching with literal needles gives exactly the regex's answer, only faster."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_matrix.classify import catalogue, logtext
from vllm_matrix.classify.linematch import MAX_BROKEN, UNICODE_CASES, Block, NeedleSet, compile_matcher


@pytest.mark.parametrize(
    ("pattern", "needles"),
    [
        (r"nvcc fatal\s*: Unsupported gpu architecture", [("Unsupported gpu architecture", False)]),
        (r"\] node down: not properly", [("node down: not properly", False)]),  # word ends only
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
    b"  [1/9] Building CUDA object a.cu.o\n"
    b"  CMake Warning: torch was Replaced? no\n"
    b"  nvcc fatal   : Unsupported gpu architecture 'compute_120'\n"
    b"KeyError: 'x'\n"
    b"  [2/9] Building CUDA object b.cu.o\n"
)
ERR = r"(?i:\bfatal\b)|\w(Error|Exception)\b"


def blocks(data: bytes, *patterns: str) -> list[Block]:
    """The same block searched needle by needle, and through a NeedleSet with and without the automaton."""
    matchers = [compile_matcher(re.compile(p, re.MULTILINE)) for p in patterns]
    return [Block(data), Block(data, NeedleSet(matchers, fast=False)), Block(data, NeedleSet(matchers))]


def test_first_last_and_every_line() -> None:
    nvcc, building = r"nvcc fatal\s*: Unsupported", r"\[\d+/\d+\] Building"
    icase = r"(?i)torch was replaced"
    for block in blocks(TEXT, nvcc, building, ERR, icase):
        matcher = compile_matcher(re.compile(nvcc, re.MULTILINE))
        assert matcher.first(block) == TEXT.index(b"  nvcc fatal")
        assert matcher.first(block, TEXT.index(b"KeyError")) is None
        matcher = compile_matcher(re.compile(building, re.MULTILINE))
        assert list(matcher.every(block)) == [0, TEXT.index(b"  [2/9]")]
        err = compile_matcher(re.compile(ERR, re.MULTILINE))
        assert err.last(block) == TEXT.index(b"KeyError")
        assert err.last(block, accept=lambda line: "KeyError" not in line) == TEXT.index(b"  nvcc fatal")
        assert compile_matcher(re.compile(icase, re.MULTILINE)).first(block) == TEXT.index(b"  CMake Warning")


def test_the_automaton_is_there_to_be_fast() -> None:
    assert NeedleSet([compile_matcher(re.compile("nvcc fatal"))]).fast  # ahocorasick-rs is a dependency
    assert not NeedleSet([compile_matcher(re.compile("nvcc fatal"))], fast=False).fast


def test_non_ascii_letters_that_re_takes_for_ascii_ones_still_match() -> None:
    # Python's re (IGNORECASE) matches the Kelvin sign to k, dotless/dotted i to i, long s to s
    data = "\u212aILLED by the kernel\nFA\u0130LED\nmi\u017fmatch\nİstanbul FATAL: here\n".encode()
    cases = ((r"(?i)killed", 0), (r"(?i)\bfailed\b", 1), (r"(?i)mismatch", 2), (r"(?i)fatal", 3))
    for pattern, line in cases:
        for block in blocks(data, pattern):
            start = compile_matcher(re.compile(pattern)).first(block)
            assert start == sum(len(x) + 1 for x in data.split(b"\n")[:line]), (pattern, block)


def test_the_pinned_unicode_cases_are_all_of_them() -> None:
    import string

    found: dict[str, tuple[str, ...]] = {}
    for letter in string.ascii_lowercase:
        rx = re.compile("(?i)" + letter)
        others = tuple(
            chr(c) for c in range(0x80, 0xD800) if rx.fullmatch(chr(c))
        )  # the BMP below surrogates
        if others:
            found[letter] = others
    assert found == {k: tuple(sorted(v)) for k, v in UNICODE_CASES.items()}


def test_ansi_split_needles_and_carriage_returns() -> None:
    raw = b"\x1b[31mnvcc fatal   : Unsup\x1b[0mported gpu architecture 'compute_120'\r\n50%\r100% done\n"
    for block in blocks(raw, r"nvcc fatal\s*: Unsupported", r"^100% done$", r"^50%"):
        assert compile_matcher(re.compile(r"nvcc fatal\s*: Unsupported")).first(block) == 0
        assert block.line(*block.line_at(0)) == "nvcc fatal   : Unsupported gpu architecture 'compute_120'"
        second = block.data.index(b"50%")
        assert compile_matcher(re.compile(r"^100% done$")).first(block) == second
        assert compile_matcher(re.compile(r"^50%")).first(block) is None  # overwritten by the CR


SAMPLES = [
    "ok",
    "error: x",
    "Error",
    "fatal error",
    "KeyError: 1",
    "torch was replaced",
    "warn",
    "",
    "İ FATAL",
]
SAMPLES += ["\u212aILLED", "x\rfatal", "fatal\ry", "caf\udce9 error"]  # Kelvin sign, CR states, a bad byte
LINES = st.lists(st.sampled_from(SAMPLES), max_size=30)


PATTERNS = st.sampled_from(
    [ERR, r"(?i)torch (was )?replaced", r"^fatal", r"(?i)killed", r"x?y?z?$", r"^\s*\w+ error$"]
)


@settings(max_examples=300, deadline=None)
@given(LINES, PATTERNS, st.sampled_from([0, 1, 2]))
def test_same_lines_as_a_plain_regex_scan(lines: list[str], pattern: str, which: int) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
    compiled = re.compile(pattern, re.MULTILINE)
    raw = [x.encode("utf-8", "surrogateescape") for x in lines]
    shown = [logtext.line_text(x) for x in raw]  # what a terminal shows of each line
    expected = [i for i, line in enumerate(shown) if compiled.search(line)]
    starts = [sum(len(x) + 1 for x in raw[:i]) for i in range(len(raw))]
    block = blocks(data, pattern)[which]
    got = [starts.index(s) for s in compile_matcher(compiled).every(block)]
    assert got == expected
    last = compile_matcher(compiled).last(block)
    assert last == (starts[expected[-1]] if expected else None)


def test_a_block_keeps_its_escape_sequences_only_with_the_automaton() -> None:
    raw = b"\x1b[1mok\x1b[0m, a line long enough not to count as coloured word by word\nnvcc fa\x1b[0mtal\n"
    plain, by_find, fast = blocks(raw, r"nvcc fatal")
    assert plain.stripped and by_find.stripped and plain.data == by_find.data == logtext.strip_ansi(raw)
    assert not fast.stripped and fast.data == raw  # and the broken needle is still found:
    assert compile_matcher(re.compile("nvcc fatal")).first(fast) == raw.index(b"nvcc")


def test_many_broken_needles_strip_the_block_instead() -> None:
    line = b"nvcc fa\x1b[0mtal: here, in a line of some length\n"
    data = line * (MAX_BROKEN + 1)
    fast = blocks(data, r"nvcc fatal: here")[2]
    assert fast.stripped and fast.data == logtext.strip_ansi(line) * (MAX_BROKEN + 1)
    matcher = compile_matcher(re.compile(r"nvcc fatal: here"))
    assert len(list(matcher.every(fast))) == MAX_BROKEN + 1
    assert not blocks(line * MAX_BROKEN, r"nvcc fatal: here")[2].stripped  # at the limit it stays


def test_a_log_coloured_word_by_word_is_stripped_without_trying() -> None:
    line = b"\x1b[1mnvcc\x1b[0m \x1b[31mfatal\x1b[0m\n"  # a sequence every 8 bytes
    fast = blocks(line * 10, r"nvcc fatal")[2]
    assert fast.stripped and compile_matcher(re.compile("nvcc fatal")).first(fast) == 0


def test_a_needle_the_automaton_was_not_given_is_still_found_through_a_sequence() -> None:
    data = b"ok, and more words so that the block is not dense\nKey\x1b[0mError: x\nfine\n"
    fast = blocks(data, r"nvcc fatal")[2]
    assert not fast.stripped
    err = compile_matcher(re.compile(r"KeyError: x"))
    assert err.first(fast) == data.index(b"Key") and err.last(fast) == data.index(b"Key")


SEQUENCES = st.sampled_from([b"\x1b[0m", b"\x1b[1;31m", b"\x1b[K", b"\x1b]0;title\x07", b"\x1bM", b"\x1b["])


@settings(max_examples=300, deadline=None)
@given(LINES, PATTERNS, st.lists(st.tuples(st.integers(0, 400), SEQUENCES), max_size=8))
def test_escape_sequences_anywhere_give_the_lines_a_terminal_shows(
    lines: list[str], pattern: str, inserts: list[tuple[int, bytes]]
) -> None:
    # sequences inside words, between a CR's states, next to bad bytes, unterminated: all three
    # kinds of block (stripped, searched by bytes.find, kept raw under the automaton) agree with
    # a plain regex scan of each line as the terminal shows it (the first line keeps the
    # sequences sparse enough for the automaton's block to keep them)
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
    for at, seq in sorted(inserts, reverse=True):
        at = min(at, max(len(data) - 1, 0))
        data = data[:at] + seq + data[at:]
    data = b"." * 400 + b"\n" + data
    raw = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
    data = b"".join(x + b"\n" for x in raw)
    compiled = re.compile(pattern, re.MULTILINE)
    expected = [i for i, x in enumerate(raw) if compiled.search(logtext.line_text(x))]
    assert not blocks(data, pattern)[2].stripped
    for block in blocks(data, pattern):
        starts = [0]
        for _ in raw[:-1]:
            starts.append(block.data.index(b"\n", starts[-1]) + 1)
        got = [starts.index(s) for s in compile_matcher(compiled).every(block)]
        assert got == expected, block
        last = compile_matcher(compiled).last(block)
        assert last == (starts[expected[-1]] if expected else None)

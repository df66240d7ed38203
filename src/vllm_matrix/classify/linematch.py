"""Find the lines of a large block of log bytes that a regex matches, fast.

Python's ``re`` scans for a pattern that starts with a literal at memory
speed, but crawls (about 5 MB/s) through a pattern that starts with ``\\b``,
``^\\s*``, ``(?i)`` or an alternation. Catalogue patterns are written by people,
for people, so instead of asking them to write fast regexes this module
works out, from the parsed pattern, a set of literal strings at least one of
which every match must contain (``needles``). Candidate lines are the lines
holding a needle, and the regex only runs on a candidate line (decoded and
cleaned by ``logtext.line_text``). A pattern without usable needles is tried
on every line. Either way the answer is exactly the regex's, one line at a time.

Blocks are bytes (``logtext.byte_blocks_*``): needles are looked for as UTF-8,
case-insensitive ones in an ASCII-lower-cased copy of the block. The needles of
a whole catalogue (``NeedleSet``) are found in one pass per block with an
Aho-Corasick automaton (``ahocorasick_rs``, when it is installed; else one
``bytes.find`` per needle, the same answer, slower). Case-insensitive needles
are ASCII (a pattern whose literal is not has no needles); the four non-ASCII
letters that Python's ``re`` matches against an ASCII one (``ı`` and ``İ`` for
``i``, ``ſ`` for ``s``, the Kelvin sign for ``k``) make their lines candidates
of every needle holding that letter.

Logs put prefixes before their lines (CI timestamps, docker build steps, vLLM's
``(EngineCore_DP0 pid=1)``). A ``strip`` function (the catalogue's) gives a line
without them; a pattern that anchors at the line start (``^``) is also tried on
the stripped line, so ``^\\s*Killed$`` matches ``#10 4196.7   Killed``.

The needles come from ``re._parser``, CPython's own (private) regex parser. Its
shape is pinned by tests/harness/test_linematch.py (a table of patterns and the
needles they must give, and every built-in catalogue pattern must get some), so
a CPython that changes it fails those tests rather than slowing down quietly.
Where the module is missing or its tree is not understood, a pattern simply has
no needles and is tried on every line: still exact, only slower.
"""

from __future__ import annotations

import bisect
import functools
import importlib
import re
import string
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vllm_matrix.classify.logtext import line_text, strip_ansi

MIN_NEEDLE = 3  # shorter literals match too often to be worth it

try:
    _parser: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser (3.11+)
except ImportError:  # pragma: no cover - not on the supported CPythons
    _parser = None

try:  # a Rust Aho-Corasick: every needle of a catalogue in one pass (optional, same answers)
    _acr: Any = importlib.import_module("ahocorasick_rs")
except ImportError:  # pragma: no cover - exercised by forcing it off in the tests
    _acr = None

Needle = tuple[str, bool]  # (literal, case-insensitive; then lower-case ASCII)
Strip = Callable[[str], str]  # a line without its prefixes (the same object when it has none)
Accept = Callable[[str], bool]
# non-ASCII letters that re's IGNORECASE matches against an ASCII letter (pinned by a test)
UNICODE_CASES: dict[str, tuple[str, ...]] = {"i": ("\u0130", "\u0131"), "s": ("\u017f",), "k": ("\u212a",)}


class NeedleSet:
    """The needles of many matchers, found in a block in one pass.

    One automaton searches the ASCII-lower-cased block for every needle, lower-cased: a
    superset of where each needle (of either case rule) is, which is all a candidate needs to
    be. The non-ASCII letters of ``UNICODE_CASES`` ride along, so their lines cost no pass.

    The block keeps its ANSI escape sequences: removing them is the dearest step of a scan
    (``re.sub`` pays for every sequence, and a coloured build log has one every 50 bytes), and
    only the candidate lines need it (``logtext.line_text``). A needle that the terminal shows
    whole can still be broken by a sequence in the bytes (``fa\x1b[0mtal``); then the bytes
    before the first break are a proper prefix of the needle followed by ESC. So the automaton
    also looks for every proper prefix of every needle followed by ESC (``broken`` keys), and
    where one is, the needle has a candidate: a superset again. Needles end in words
    (``_core``), and sequences mostly follow spaces and punctuation, so such hits are rare; a
    block with more than ``MAX_BROKEN`` of them is stripped of its sequences instead (``Block``).
    """

    def __init__(self, matchers: Iterable[LineMatcher], fast: bool = True) -> None:
        self.known = frozenset(n for m in matchers for n in m.needles)
        needle_keys = {lit.lower().encode() for lit, _ in self.known}
        keys = needle_keys | {ch.encode() for chars in UNICODE_CASES.values() for ch in chars}
        self.keys = sorted(keys)
        broken: dict[bytes, set[bytes]] = {}
        for key in keys:
            for i in range(1, len(key)):
                broken.setdefault(key[:i] + ESC, set()).add(key)
        self._broken_owners = [tuple(sorted(broken[k])) for k in sorted(broken)]
        self._automaton = None
        if fast and _acr is not None and self.keys:
            every = [*self.keys, *sorted(broken)]
            self._automaton = _acr.BytesAhoCorasick(every, implementation=_acr.Implementation.DFA)

    @property
    def fast(self) -> bool:
        """Whether an automaton finds the needles (else ``bytes.find``, needle by needle)."""
        return self._automaton is not None

    def index(self, lower: bytes, limit: int | None = None) -> dict[bytes, list[int]] | None:
        """Every candidate offset of every key in the lower-cased block ``lower``, by key; None
        without an automaton, or when more than ``limit`` candidates come from broken needles."""
        if self._automaton is None:
            return None
        out: dict[bytes, list[int]] = {}
        plain, broken = len(self.keys), 0
        for which, start, _end in self._automaton.find_matches_as_indexes(lower, overlapping=True):
            if which < plain:
                out.setdefault(self.keys[which], []).append(start)
                continue
            broken += 1
            if limit is not None and broken > limit:
                return None
            for key in self._broken_owners[which - plain]:
                out.setdefault(key, []).append(start)
        for positions in out.values():
            positions.sort()
        return out


ESC = b"\x1b"
MAX_BROKEN = 500  # broken-needle candidates in a block beyond which stripping it is cheaper
DENSE = 24  # bytes per sequence or fewer: a log coloured word by word, stripped without trying


@dataclass
class Block:
    """A block of whole lines of log bytes (each ending in a newline; CR kept).

    With an automaton (``NeedleSet``) the block keeps its ANSI escape sequences, unless it has
    many broken-needle candidates or a sequence every ``DENSE`` bytes (then many of them follow
    a letter, and trying costs a wasted pass); without one they are removed here. Either way
    offsets and lines are the block's own, and ``line`` shows a line as the terminal does.
    """

    data: bytes
    needles: NeedleSet | None = None
    _index: dict[bytes, list[int]] | None = field(default=None, init=False, repr=False)
    stripped: bool = field(default=False, init=False)  # the sequences were removed from ``data``

    def __post_init__(self) -> None:
        automaton = self.needles if self.needles is not None and self.needles.fast else None
        if automaton is not None and self.data.count(ESC) * DENSE < len(self.data):
            self._index = automaton.index(self.lower, MAX_BROKEN)
        if self._index is None:
            self.stripped = True
            stripped = strip_ansi(self.data)
            if stripped is not self.data:
                self.data = stripped
                self.__dict__.pop("lower", None)
            if automaton is not None:
                self._index = automaton.index(self.lower)

    @functools.cached_property
    def lower(self) -> bytes:
        """The block with ASCII letters lower-cased (offsets unchanged)."""
        return self.data.lower()

    @functools.cached_property
    def unicode_case_lines(self) -> dict[str, list[int]]:
        """Starts of the lines holding a non-ASCII letter that ``re`` takes for ``i``, ``s`` or ``k``."""
        out: dict[str, list[int]] = {}
        if self.data.isascii():
            return out
        for letter, chars in UNICODE_CASES.items():
            starts = {self.line_at(at)[0] for ch in chars for at in self._every(ch.encode())}
            if starts:
                out[letter] = sorted(starts)
        return out

    def line_at(self, pos: int) -> tuple[int, int]:
        """Start and end (the newline's offset) of the line holding ``pos``."""
        return self.data.rfind(b"\n", 0, pos) + 1, self.data.find(b"\n", pos)

    def line(self, start: int, end: int) -> str:
        """The line ``data[start:end]`` as text, as the terminal shows it."""
        return line_text(self.data[start:end], ansi=not self.stripped)

    def count_lines(self, end: int) -> int:
        """How many newlines come before ``end``."""
        return self.data.count(b"\n", 0, end)

    def find(self, needle: Needle, pos: int) -> int:
        """Offset of the first candidate of ``needle`` at or after ``pos`` (-1: none)."""
        found = self._positions(needle)
        if found is not None:
            i = bisect.bisect_left(found, pos)
            at = found[i] if i < len(found) else -1
        else:
            lit, icase = needle
            at = (self.lower if icase else self.data).find(lit.encode(), pos)
            if not self.stripped:  # a needle the automaton was not given: a line with a sequence may hold it
                esc = self.data.find(ESC, pos)
                at = esc if esc >= 0 and (at < 0 or esc < at) else at
        return self._with_unicode_cases(needle, at, pos, forward=True)

    def rfind(self, needle: Needle, end: int) -> int:
        """Offset of the last candidate of ``needle`` that starts before ``end`` (a line start, or
        the block's end; -1: none)."""
        found = self._positions(needle)
        if found is not None:
            i = bisect.bisect_left(found, end)
            at = found[i - 1] if i else -1
        else:
            lit, icase = needle
            at = (self.lower if icase else self.data).rfind(lit.encode(), 0, end)
            if not self.stripped:  # as in ``find``
                at = max(at, self.data.rfind(ESC, 0, end))
        return self._with_unicode_cases(needle, at, end, forward=False)

    def _positions(self, needle: Needle) -> list[int] | None:
        """Where the automaton saw ``needle`` (any case), or None when it was not asked to look."""
        if self._index is None or self.needles is None or needle not in self.needles.known:
            return None
        return self._index.get(needle[0].lower().encode(), [])

    def _every(self, sub: bytes) -> list[int]:
        if self._index is not None:
            return self._index.get(sub, [])
        out, pos = [], self.data.find(sub)
        while pos >= 0:
            out.append(pos)
            pos = self.data.find(sub, pos + 1)
        return out

    def _with_unicode_cases(self, needle: Needle, at: int, bound: int, forward: bool) -> int:
        """``at``, or a nearer line holding a non-ASCII case of one of the needle's letters."""
        lit, icase = needle
        if not icase or not self.unicode_case_lines:
            return at
        for letter, starts in self.unicode_case_lines.items():
            if letter not in lit:
                continue
            if forward:
                i = bisect.bisect_left(starts, self.line_at(bound)[0])
                if i < len(starts) and (at < 0 or starts[i] < at):
                    at = max(starts[i], bound)
            else:
                i = bisect.bisect_left(starts, bound)
                if i and starts[i - 1] > at:
                    at = starts[i - 1]
        return at


@dataclass(frozen=True)
class LineMatcher:
    """A compiled pattern and the needles every match contains (empty: none known)."""

    pattern: re.Pattern[str]
    needles: tuple[Needle, ...]
    anchored: bool = False  # the pattern may anchor at a line start: also try it without prefixes

    def matches(self, line: str, strip: Strip | None = None) -> bool:
        """Whether ``line`` matches, as it is or (for an anchored pattern) without its prefixes."""
        if self.pattern.search(line) is not None:
            return True
        if strip is None or not self.anchored:
            return False
        bare = strip(line)
        return bare is not line and self.pattern.search(bare) is not None

    def first(
        self, block: Block, pos: int = 0, accept: Accept | None = None, strip: Strip | None = None
    ) -> int | None:
        """Offset of the start of the first line at or after ``pos`` that matches (and is accepted)."""
        finder = _Forward(self, block)
        while (cand := finder.next(pos)) is not None:
            start, end = block.line_at(cand)
            line = block.line(start, end)
            if self.matches(line, strip) and (accept is None or accept(line)):
                return start
            pos = end + 1
        return None

    def last(self, block: Block, accept: Accept | None = None, strip: Strip | None = None) -> int | None:
        """Offset of the start of the last matching (and accepted) line of ``block``."""
        end = len(block.data)
        for cand in self._backward(block):
            if cand >= end:
                continue
            start, line_end = block.line_at(cand)
            line = block.line(start, line_end)
            if self.matches(line, strip) and (accept is None or accept(line)):
                return start
            end = start
        return None

    def every(self, block: Block, strip: Strip | None = None) -> Iterator[int]:
        """Offsets of the starts of every matching line, in order."""
        pos = 0
        while (start := self.first(block, pos, strip=strip)) is not None:
            yield start
            pos = block.data.find(b"\n", start) + 1

    def _backward(self, block: Block) -> Iterator[int]:
        """Candidate offsets, last first; each is below the previous line start the caller moved to."""
        if not self.needles:
            yield from _lines_backward(block.data)
            return
        end = len(block.data)
        while True:
            found = max(block.rfind(needle, end) for needle in self.needles)
            if found < 0:
                return
            yield found
            end = block.data.rfind(b"\n", 0, found) + 1
            if end == 0:
                return


class _Forward:
    """Next candidate offset at or after a position, remembering where each needle was seen."""

    def __init__(self, matcher: LineMatcher, block: Block) -> None:
        self.matcher = matcher
        self.block = block
        self.seen: list[int] = [-2] * len(matcher.needles)  # -2: not looked yet; -1: absent after here

    def next(self, pos: int) -> int | None:
        if not self.matcher.needles:  # every line is a candidate
            return pos if pos < len(self.block.data) else None
        best = -1
        for i, needle in enumerate(self.matcher.needles):
            at = self.seen[i]
            if at == -2 or (at >= 0 and at < pos):
                at = self.block.find(needle, pos)
                self.seen[i] = at
            if at >= 0 and (best < 0 or at < best):
                best = at
        return None if best < 0 else best


def _lines_backward(data: bytes) -> Iterator[int]:
    """The start of every line of ``data`` (whole lines ending in newlines), last first."""
    end = len(data) - 1
    while end >= 0:
        start = data.rfind(b"\n", 0, end) + 1
        yield start
        end = start - 1


@functools.lru_cache(maxsize=1024)
def compile_matcher(pattern: re.Pattern[str]) -> LineMatcher:
    """The matcher of a compiled pattern, with its needles worked out once."""
    try:
        if _parser is None:
            raise LookupError("no re._parser")
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        icase = bool(parsed.state.flags & re.IGNORECASE)
        needles = _required(list(parsed), icase)
    except Exception:  # an unexpected parse tree: no prefilter, still exact
        needles = None
    if not needles or min(len(lit) for lit, _ in needles) < MIN_NEEDLE:
        needles = ()
    if any(ic and not lit.isascii() for lit, ic in needles):  # found by bytes.lower: ASCII only
        needles = ()
    lits = tuple((lit.lower() if ic else lit, ic) for lit, ic in needles)
    return LineMatcher(pattern, lits, anchored="^" in pattern.pattern or "\\A" in pattern.pattern)


def _required(items: list[tuple[Any, Any]], icase: bool) -> tuple[Needle, ...] | None:
    """Literals one of which every match of the sequence ``items`` contains; None if unknown."""
    options: list[tuple[Needle, ...]] = []
    run: list[str] = []
    for op, av in items:
        if op is _parser.LITERAL:
            run.append(chr(av))
            continue
        if core := _core(run):
            options.append(((core, icase),))
        run = []
        found = _required_of(op, av, icase)
        if found:
            options.append(found)
    if core := _core(run):
        options.append(((core, icase),))
    return max(options, key=lambda o: min(len(lit) for lit, _ in o)) if options else None


def _core(run: list[str]) -> str:
    """A literal without the spaces and ASCII punctuation at its ends (still contained in every
    match). An escape sequence is usually printed next to those, so a needle that ends in a word is
    rarely broken by one (see ``NeedleSet``)."""
    return "".join(run).strip(_EDGE)


_EDGE = string.whitespace + string.punctuation


def _required_of(op: Any, av: Any, icase: bool) -> tuple[Needle, ...] | None:
    if op is _parser.SUBPATTERN:
        _group, add, remove, sub = av
        inner = (icase or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
        return _required(list(sub), inner)
    if op is _parser.BRANCH:
        per_branch = [_required(list(b), icase) for b in av[1]]
        if any(not b for b in per_branch):
            return None
        return tuple(n for b in per_branch if b for n in b)
    if op in (_parser.MAX_REPEAT, _parser.MIN_REPEAT, _parser.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _required(list(av[2]), icase)
    return None

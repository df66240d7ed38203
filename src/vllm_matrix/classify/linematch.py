"""Find the lines of a large text block that a regex matches, fast.

Python's ``re`` scans for a pattern that starts with a literal at memory
speed, but crawls (about 5 MB/s) through a pattern that starts with ``\\b``,
``^\\s*``, ``(?i)`` or an alternation. Catalogue patterns are written by people,
for people, so instead of asking them to write fast regexes this module
works out, from the parsed pattern, a set of literal strings at least one of
which every match must contain (``needles``). Lines are then found with
``str.find`` / ``str.rfind`` on those needles, and the regex only runs on a
candidate line. A pattern without usable needles is searched with the regex
itself. Either way the answer is exactly the regex's, one line at a time.

Case-insensitive needles are looked for in a lower-cased copy of the block,
made once per block, and only when lower-casing kept every offset in place.

Logs put prefixes before their lines (CI timestamps, docker build steps, vLLM's
``(EngineCore_DP0 pid=1)``). A ``strip`` function (the catalogue's) gives a line
without them; a pattern that anchors at the line start (``^``) is also tried on
the stripped line, so ``^\\s*Killed$`` matches ``#10 4196.7   Killed``.

The needles come from ``re._parser``, CPython's own (private) regex parser. Its
shape is pinned by tests/harness/test_linematch.py (a table of patterns and the
needles they must give, and every built-in catalogue pattern must get some), so
a CPython that changes it fails those tests rather than slowing down quietly.
Where the module is missing or its tree is not understood, a pattern simply has
no needles and is searched with the regex itself: still exact, only slower.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

MIN_NEEDLE = 3  # shorter literals match too often to be worth it

try:
    _parser: Any = importlib.import_module("re._parser")  # the stdlib's own regex parser (3.11+)
except ImportError:  # pragma: no cover - not on the supported CPythons
    _parser = None


@dataclass
class Block:
    """A block of whole lines (each ending in a newline), with its lower-cased copy made on demand."""

    text: str
    _lower: str | None = field(default=None, repr=False)
    _lower_done: bool = field(default=False, repr=False)

    def haystack(self, icase: bool) -> str | None:
        """The text to look for needles in; None if lower-casing moved offsets."""
        if not icase:
            return self.text
        if not self._lower_done:
            lower = self.text.lower()
            self._lower = lower if len(lower) == len(self.text) else None
            self._lower_done = True
        return self._lower

    def line_at(self, pos: int) -> tuple[int, int]:
        """Start and end (the newline's offset) of the line holding ``pos``."""
        return self.text.rfind("\n", 0, pos) + 1, self.text.find("\n", pos)


Needle = tuple[str, bool]  # (literal, case-insensitive)
Strip = Callable[[str], str]  # a line without its prefixes (the same object when it has none)
Accept = Callable[[str], bool]


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
        finder = _Forward(self, block, linewise=self._linewise(strip))
        while (cand := finder.next(pos)) is not None:
            start, end = block.line_at(cand)
            line = block.text[start:end]
            if self.matches(line, strip) and (accept is None or accept(line)):
                return start
            pos = end + 1
        return None

    def last(self, block: Block, accept: Accept | None = None, strip: Strip | None = None) -> int | None:
        """Offset of the start of the last matching (and accepted) line of ``block``."""
        end = len(block.text)
        for cand in self._backward(block, self._linewise(strip)):
            if cand >= end:
                continue
            start, line_end = block.line_at(cand)
            line = block.text[start:line_end]
            if self.matches(line, strip) and (accept is None or accept(line)):
                return start
            end = start
        return None

    def every(self, block: Block, strip: Strip | None = None) -> Iterator[int]:
        """Offsets of the starts of every matching line, in order."""
        pos = 0
        while (start := self.first(block, pos, strip=strip)) is not None:
            yield start
            pos = block.text.find("\n", start) + 1

    def _linewise(self, strip: Strip | None) -> bool:
        """A needle-less anchored pattern must see every line: a prefixed line hides its anchor."""
        return strip is not None and self.anchored and not self.needles

    def _backward(self, block: Block, linewise: bool = False) -> Iterator[int]:
        """Candidate offsets, last first; each is below the previous line start the caller moved to."""
        hay = [(block.haystack(icase), lit) for lit, icase in self.needles]
        if linewise:
            yield from _lines_backward(block.text)
        elif self.needles and all(h is not None for h, _ in hay):
            end = len(block.text)
            while True:
                found = max(h.rfind(lit, 0, end) for h, lit in hay if h is not None)
                if found < 0:
                    return
                yield found
                end = block.text.rfind("\n", 0, found) + 1
                if end == 0:
                    return
        else:
            yield from _regex_backward(self.pattern, block.text)


class _Forward:
    """Next candidate offset at or after a position, remembering where each needle was seen."""

    def __init__(self, matcher: LineMatcher, block: Block, linewise: bool = False) -> None:
        self.matcher = matcher
        self.block = block
        self.linewise = linewise
        self.hay = [(block.haystack(icase), lit) for lit, icase in matcher.needles]
        self.usable = bool(matcher.needles) and all(h is not None for h, _ in self.hay)
        self.seen: list[int] = [-2] * len(self.hay)  # -2: not looked yet; -1: absent after here

    def next(self, pos: int) -> int | None:
        if self.linewise:
            return pos if pos < len(self.block.text) else None
        if not self.usable:
            m = self.matcher.pattern.search(self.block.text, pos)
            return None if m is None else m.start()
        best = -1
        for i, (hay, lit) in enumerate(self.hay):
            at = self.seen[i]
            if at == -2 or (at >= 0 and at < pos):
                at = hay.find(lit, pos) if hay is not None else -1
                self.seen[i] = at
            if at >= 0 and (best < 0 or at < best):
                best = at
        return None if best < 0 else best


def _lines_backward(text: str) -> Iterator[int]:
    """The start of every line of ``text`` (whole lines ending in newlines), last first."""
    end = len(text) - 1
    while end >= 0:
        start = text.rfind("\n", 0, end) + 1
        yield start
        end = start - 1


def _regex_backward(pattern: re.Pattern[str], text: str) -> Iterator[int]:
    """Match offsets, last first, searching growing tails of ``text``."""
    end = len(text)
    span = 4096
    while end > 0:
        start = text.rfind("\n", 0, max(0, end - span)) + 1
        for m in reversed(list(pattern.finditer(text, start, end))):
            yield m.start()
        end = start
        span *= 4


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
        if run:
            options.append((("".join(run), icase),))
            run = []
        found = _required_of(op, av, icase)
        if found:
            options.append(found)
    if run:
        options.append((("".join(run), icase),))
    return max(options, key=lambda o: min(len(lit) for lit, _ in o)) if options else None


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

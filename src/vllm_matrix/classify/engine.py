"""A failed stage's log -> its failure class, the decisive line(s), and a hint.

Public API (the runner calls these after a stage fails)::

    classify_file(path: Path, stage: str | None = None, catalogues: Sequence[Path] = ()) -> Diagnosis
    classify_lines(lines: Iterable[str | bytes], stage: str | None = None,
                   catalogues: Sequence[Path] = ()) -> Diagnosis

    @dataclass(frozen=True) Diagnosis:
        klass: str               "NVCC_UNSUPPORTED_ARCH", ..., or "OTHER"
        evidence: tuple[str,...] the decisive line (plus the lines its class asks for), ANSI stripped
        line_number: int | None  1-based line of the first evidence line in the log
        hint: str                one line: what usually fixes it
        notes: tuple[str, ...]   "TORCH_PIN_WARN: <line>": notes, never failure classes
        to_dict() / Diagnosis.from_dict(d)   JSON form: class, evidence, line_number, hint, notes

``stage`` is one of the runner's stages (``catalogue.STAGES``: resolve, venv,
torch, source, prepare, build, verify, suites); only classes listed for that
stage are candidates. None means every class. ``catalogues`` are the user's
extra catalogue files (``MatrixConfig.catalogues``), merged over the built-in
``catalogue.toml``.

How a class is chosen: every line is matched against the signatures of the
candidate classes; a line that matches one of the class's ``reject`` patterns
(a warning that mentions the same words, a test named ``...Killed``) is not
evidence. Of the classes that matched, the one with the highest priority wins;
among equal priorities the one whose first match comes earliest.

Which line is decisive (``catalogue.toml``'s header has the keys):

- a class's evidence is its first matching line, because later errors are
  usually consequences; but never a tool's trailer (``[other] ignore``:
  ``Configuring incomplete``, ``Failed to build``, ``CalledProcessError``...)
  while the class has a matching line that is not one;
- a line matching the class's ``heading`` only introduces the message: the
  decisive line is the next non-blank one (``CMake Error at f.cmake:136
  (message):`` is followed by the message);
- a later line matching the class's ``prefer`` patterns (the earlier in that
  list, the better) becomes the decisive line, and the first match follows it:
  pytest-xdist's ``worker 'gw1' crashed while running '<test id>'`` names the
  test, the line above names the signal;
- the hint is the first of the class's ``hints`` whose ``when`` matches an
  evidence line, else the class's own hint;
- when no class matches, the class is OTHER and the evidence is the first
  compiler diagnostic (``[other] first``), else the last error-looking line that
  is not a trailer (a bare ``RuntimeError:`` heading gives the line after it, a
  bare ``AssertionError`` the traceback's ``assert ...`` line above it; a line
  that looks like an error only for its prefix, vLLM's ``ERROR 02-17 ...]``,
  does not count), else the last non-blank line: the classifier never guesses a class.

Lines are matched as they are and, for patterns anchored with ``^``, also
without their prefixes (``[other] prefix``: CI timestamps, docker build steps,
vLLM's process tags), so ``^\\s*Killed$`` matches ``#10 4196.7   Killed``.
Evidence lines are printable text (``logtext.printable``): control characters
and undecodable bytes are escaped.

Logs are streamed in blocks of whole lines (``logtext``), so a log of
hundreds of megabytes is never read whole. A class stops being searched once
it has matched (only its ``prefer`` patterns go on), so the cost is about one
pass of each signature over the log.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.classify import catalogue, logtext
from vllm_matrix.classify.catalogue import Catalogue, Signature
from vllm_matrix.classify.linematch import Block, NeedleSet, Strip, compile_matcher
from vllm_matrix.classify.logtext import printable
from vllm_matrix.errors import InputError

OTHER = "OTHER"
OTHER_HINT = "no known failure signature matched: read the evidence line and the log"
MAX_NOTES = 5
MAX_EVIDENCE_CHARS = 2000


@dataclass(frozen=True)
class Diagnosis:
    """What a failed stage's log says: class, decisive line(s), hint and notes."""

    klass: str
    evidence: tuple[str, ...] = ()
    line_number: int | None = None
    hint: str = ""
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.klass,
            "evidence": list(self.evidence),
            "line_number": self.line_number,
            "hint": self.hint,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diagnosis:
        """The inverse of ``to_dict`` (e.g. reading a result.json back)."""
        return cls(
            data["class"], tuple(data["evidence"]), data["line_number"], data["hint"], tuple(data["notes"])
        )


def classify_file(path: Path, stage: str | None = None, catalogues: Sequence[Path] = ()) -> Diagnosis:
    """Classify the log at ``path``, streamed; an unreadable file is an InputError."""
    cat = catalogue.load(catalogues)
    try:
        with Path(path).open("rb") as stream:
            return _classify(logtext.byte_blocks_from_stream(stream), catalogue.check_stage(stage), cat)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the log ({exc.strerror or exc})") from None


def classify_lines(
    lines: Iterable[str | bytes], stage: str | None = None, catalogues: Sequence[Path] = ()
) -> Diagnosis:
    """Classify a log given as lines (str or bytes, with or without line ends)."""
    cat = catalogue.load(catalogues)
    return _classify(logtext.byte_blocks_from_lines(lines), catalogue.check_stage(stage), cat)


def _classify(blocks: Iterable[bytes], stage: str | None, cat: Catalogue) -> Diagnosis:
    scan = _Scan(cat, stage)
    for block in blocks:
        scan.feed(block)
    return scan.diagnosis()


def needle_set(cat: Catalogue, stage: str | None) -> NeedleSet:
    """Every needle the scan of ``stage`` looks for, found together in one pass per block."""
    return _needle_set(cat, stage, _FAST)


@functools.lru_cache(maxsize=64)
def _needle_set(cat: Catalogue, stage: str | None, fast: bool) -> NeedleSet:
    sigs = [*cat.failures(stage), *cat.notes(stage)]
    patterns = [p for s in sigs for p in (*s.patterns, *s.prefer)]
    patterns += [cat.error_line, *cat.first_error]
    return NeedleSet((compile_matcher(p) for p in patterns), fast=fast)


_FAST = True  # find needles with the Aho-Corasick automaton when it is installed (tests turn it off)


@dataclass
class _Hit:
    """A class's evidence so far: its decisive line, the lines it still wants, a better line."""

    sig: Signature
    line_number: int
    lines: list[str]
    wanted: int
    trailer: bool = False  # the line is a tool's trailer: a later non-trailer match replaces it
    heading: str | None = None  # the heading whose message (the next non-blank line) is awaited
    preferred: tuple[int, int, str] | None = None  # (rank in sig.prefer, line number, line)


@dataclass
class _Scan:
    """The state of one pass over a log."""

    cat: Catalogue
    stage: str | None
    lines_before: int = 0
    hits: dict[str, _Hit] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fallback: _Fallback = field(init=False)

    def __post_init__(self) -> None:
        self.todo = self.cat.failures(self.stage)
        self.note_sigs = self.cat.notes(self.stage)
        self.fallback = _Fallback(self.cat)
        self.needles = needle_set(self.cat, self.stage)

    def feed(self, data: bytes) -> None:
        """Scan one block of whole lines (each ending in a newline)."""
        block = Block(data, self.needles)
        self._context(block, 0, self.lines_before + 1)
        for sig in self.todo:
            hit = self.hits.get(sig.name)
            if hit is None or hit.trailer:
                self._search(sig, block, hit)
            hit = self.hits.get(sig.name)
            if hit is not None and sig.prefer:
                self._prefer(hit, block)
        self._notes(block)
        self.fallback.feed(block, self.lines_before)
        self.lines_before += data.count(b"\n")

    def _number(self, block: Block, offset: int) -> int:
        return self.lines_before + block.count_lines(offset) + 1

    def _search(self, sig: Signature, block: Block, old: _Hit | None) -> None:
        """Record ``sig``'s first evidence in ``block``: a line that is no trailer, else a trailer."""
        pos = 0
        while (found := _first(sig, block, pos, self.cat.without_prefix)) is not None:
            end = block.data.find(b"\n", found)
            line = block.line(found, end)
            trailer = self.cat.is_boilerplate(line)
            if not trailer or old is None:
                number = self._number(block, found)
                old = self._record(sig, number, line, trailer)
                self._context(block, end + 1, number + 1, only=old)
                if not trailer:
                    return
            pos = end + 1

    def _record(self, sig: Signature, number: int, line: str, trailer: bool) -> _Hit:
        if sig.is_heading(line):
            hit = _Hit(sig, number, [], sig.after + 1, trailer, heading=line)
        else:
            hit = _Hit(sig, number, [line], sig.after, trailer)
        self.hits[sig.name] = hit
        return hit

    def _prefer(self, hit: _Hit, block: Block) -> None:
        """Look for a line of ``hit``'s ``prefer`` patterns better than the one it has."""
        pos = 0
        if hit.line_number > self.lines_before:  # the hit is in this block: look from its line on
            pos = _offset_of_line(block.data, hit.line_number - self.lines_before)
        best = len(hit.sig.prefer) if hit.preferred is None else hit.preferred[0]
        for rank, pattern in enumerate(hit.sig.prefer[:best]):
            found = compile_matcher(pattern).first(block, pos, strip=self.cat.without_prefix)
            if found is not None:
                line = block.line(found, block.data.find(b"\n", found))
                hit.preferred = (rank, self._number(block, found), line)
                return

    def _context(self, block: Block, pos: int, first_number: int, only: _Hit | None = None) -> None:
        """Give hits that want following lines the non-blank lines from ``pos`` on."""
        data = block.data
        for hit in [only] if only else list(self.hits.values()):
            at, number = pos, first_number
            while hit.wanted > 0 and at < len(data):
                end = data.find(b"\n", at)
                line = block.line(at, end).rstrip()
                if line:
                    if hit.heading is not None and not hit.lines:
                        hit.line_number = number
                    hit.lines.append(line)
                    hit.wanted -= 1
                at, number = end + 1, number + 1

    def _notes(self, block: Block) -> None:
        for sig in self.note_sigs:
            for pattern in sig.patterns:
                for start in compile_matcher(pattern).every(block, self.cat.without_prefix):
                    line = block.line(start, block.data.find(b"\n", start)).strip()
                    note = f"{sig.name}: {printable(line)}"
                    if len(self.notes) < MAX_NOTES and note not in self.notes and not sig.rejects(line):
                        self.notes.append(note)

    def diagnosis(self) -> Diagnosis:
        notes = tuple(self.notes)
        if self.hits:
            best = max(self.hits.values(), key=lambda h: (h.sig.priority, -h.line_number))
            number, lines = _evidence(best)
            evidence = tuple(_short(line.strip()) for line in lines)
            return Diagnosis(best.sig.name, evidence, number, best.sig.hint_for(lines), notes)
        found = self.fallback.evidence()
        if found is None:
            return Diagnosis(OTHER, (), None, "the log is empty", notes)
        return Diagnosis(OTHER, (_short(found[1]),), found[0], OTHER_HINT, notes)


def _evidence(hit: _Hit) -> tuple[int, list[str]]:
    """The line number and lines of a hit's evidence: the preferred line first, if any."""
    lines = hit.lines or ([hit.heading] if hit.heading is not None else [])
    if hit.preferred is None:
        return hit.line_number, lines
    _rank, number, line = hit.preferred
    if number == hit.line_number:
        return number, lines
    return number, [line, *lines]


class _Fallback:
    """OTHER's evidence: the first compiler diagnostic, else the last error-looking line that is no
    trailer (the line after it, when it is a bare heading such as ``RuntimeError:``), else the last
    non-blank line."""

    def __init__(self, cat: Catalogue) -> None:
        self.cat = cat
        self.error_line = compile_matcher(cat.error_line)
        self.first_error: tuple[int, str] | None = None
        self.last_error: tuple[int, str] | None = None
        self.heading = False  # last_error is a heading whose message line is still to come
        self.last_line: tuple[int, str] | None = None

    def evidence(self) -> tuple[int, str] | None:
        return self.first_error or self.last_error or self.last_line

    def feed(self, block: Block, lines_before: int) -> None:
        data = block.data
        if self.heading:
            self._message_of_heading(block, 0, lines_before + 1)
        if self.first_error is None:
            self._first(block, lines_before)
        found = self.error_line.last(block, self._is_error, self.cat.without_prefix)
        if found is not None:
            end = data.find(b"\n", found)
            number = lines_before + block.count_lines(found) + 1
            line = block.line(found, end)
            self.last_error = (number, line.strip())
            if _BARE_ASSERTION.match(self.cat.without_prefix(line)):
                self.last_error = _assert_source(block, found, lines_before, self.cat) or self.last_error
            self.heading = any(h.search(self.cat.without_prefix(line)) for h in self.cat.heading)
            if self.heading:
                self._message_of_heading(block, end + 1, number + 1)
        self._last_line(block, lines_before)

    def _last_line(self, block: Block, lines_before: int) -> None:
        """Remember the block's last non-blank line."""
        data = block.data
        end = len(data) - 1
        while end >= 0:
            start = data.rfind(b"\n", 0, end) + 1
            line = block.line(start, end).strip()
            if line:
                self.last_line = (lines_before + block.count_lines(start) + 1, line)
                return
            end = start - 1

    def _not_trailer(self, line: str) -> bool:
        return not self.cat.is_boilerplate(line)

    def _is_error(self, line: str) -> bool:
        """An error-looking line that is no trailer, and not only for its prefix (vLLM's ``ERROR ...]``)."""
        return (
            self._not_trailer(line)
            and self.error_line.pattern.search(self.cat.without_prefix(line)) is not None
        )

    def _first(self, block: Block, lines_before: int) -> None:
        offsets = [
            compile_matcher(p).first(block, accept=self._not_trailer, strip=self.cat.without_prefix)
            for p in self.cat.first_error
        ]
        found = min((o for o in offsets if o is not None), default=None)
        if found is not None:
            line = block.line(found, block.data.find(b"\n", found)).strip()
            self.first_error = (lines_before + block.count_lines(found) + 1, line)

    def _message_of_heading(self, block: Block, pos: int, number: int) -> None:
        """Replace a heading error line by the first non-blank line from ``pos`` on, if there is one."""
        data = block.data
        while pos < len(data):
            end = data.find(b"\n", pos)
            line = block.line(pos, end).strip()
            if line:
                self.last_error, self.heading = (number, line), False
                return
            pos, number = end + 1, number + 1


_BARE_ASSERTION = re.compile(r"\s*AssertionError\s*$")
_ASSERT_SOURCE = re.compile(r"\s*assert\b")
_ASSERT_LOOKBACK = 8  # lines: a traceback prints the assert statement just above (its ^^^ marks between)


def _assert_source(block: Block, found: int, lines_before: int, cat: Catalogue) -> tuple[int, str] | None:
    """For a bare ``AssertionError`` at ``found``: the traceback's ``assert ...`` source line above it,
    which is all that names the cause (the exception carries no message)."""
    end = found - 1
    for _ in range(_ASSERT_LOOKBACK):
        if end < 0:
            return None
        start = block.data.rfind(b"\n", 0, end) + 1
        line = block.line(start, end)
        if _ASSERT_SOURCE.match(cat.without_prefix(line)):
            return lines_before + block.count_lines(start) + 1, line.strip()
        end = start - 1
    return None


def _offset_of_line(data: bytes, index: int) -> int:
    """Offset of the start of the ``index``-th (1-based) line of ``data``."""
    pos = 0
    for _ in range(index - 1):
        pos = data.find(b"\n", pos) + 1
    return pos


def _first(sig: Signature, block: Block, pos: int = 0, strip: Strip | None = None) -> int | None:
    """Offset of the earliest line of ``block`` from ``pos`` on that is evidence for ``sig``."""

    def accept(line: str) -> bool:
        return not sig.rejects(line)

    offsets = (compile_matcher(p).first(block, pos, accept=accept, strip=strip) for p in sig.patterns)
    return min((o for o in offsets if o is not None), default=None)


def _short(line: str) -> str:
    line = printable(line)
    return line if len(line) <= MAX_EVIDENCE_CHARS else line[:MAX_EVIDENCE_CHARS] + " ..."

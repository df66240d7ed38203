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
among equal priorities the one whose first match comes earliest. Each class's
evidence is its first matching line, because later errors are usually
consequences. When no class matches, the class is OTHER and the evidence is
the last error-looking line that is not a tool's trailer (``ninja: build
stopped``, ``error: subprocess-exited-with-error``, ...), else the last
non-blank line: the classifier never guesses a class.

Logs are streamed in blocks of whole lines (``logtext``), so a log of
hundreds of megabytes is never read whole. A class stops being searched once
it has matched, so the cost is one pass of each signature over the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.classify import catalogue, logtext
from vllm_matrix.classify.catalogue import Catalogue, Signature
from vllm_matrix.classify.linematch import Block, compile_matcher
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
            return _classify(logtext.blocks_from_stream(stream), catalogue.check_stage(stage), cat)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the log ({exc.strerror or exc})") from None


def classify_lines(
    lines: Iterable[str | bytes], stage: str | None = None, catalogues: Sequence[Path] = ()
) -> Diagnosis:
    """Classify a log given as lines (str or bytes, with or without line ends)."""
    cat = catalogue.load(catalogues)
    return _classify(logtext.blocks_from_lines(lines), catalogue.check_stage(stage), cat)


def _classify(blocks: Iterable[str], stage: str | None, cat: Catalogue) -> Diagnosis:
    scan = _Scan(cat, stage)
    for block in blocks:
        scan.feed(block)
    return scan.diagnosis()


@dataclass
class _Hit:
    """A class's first evidence, and how many context lines it still wants."""

    sig: Signature
    line_number: int
    lines: list[str]
    wanted: int


@dataclass
class _Scan:
    """The state of one pass over a log."""

    cat: Catalogue
    stage: str | None
    lines_before: int = 0
    hits: dict[str, _Hit] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    last_error: tuple[int, str] | None = None
    last_line: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        self.todo = self.cat.failures(self.stage)
        self.note_sigs = self.cat.notes(self.stage)

    def feed(self, text: str) -> None:
        """Scan one block of whole lines (each ending in a newline)."""
        block = Block(text)
        self._context(text)
        for sig in [s for s in self.todo if s.name not in self.hits]:
            found = _first(sig, block)
            if found is not None:
                number = self.lines_before + text.count("\n", 0, found) + 1
                end = text.find("\n", found)
                self.hits[sig.name] = _Hit(sig, number, [text[found:end]], sig.after)
                self._context(text[end + 1 :], only=self.hits[sig.name])
        self._notes(block)
        self._fallback(block)
        self.lines_before += text.count("\n")

    def _context(self, text: str, only: _Hit | None = None) -> None:
        """Give hits that want following lines the non-blank lines at the start of ``text``."""
        for hit in [only] if only else list(self.hits.values()):
            pos = 0
            while hit.wanted > 0 and pos < len(text):
                end = text.find("\n", pos)
                line = text[pos:end].rstrip()
                if line:
                    hit.lines.append(line)
                    hit.wanted -= 1
                pos = end + 1

    def _notes(self, block: Block) -> None:
        for sig in self.note_sigs:
            for pattern in sig.patterns:
                for start in compile_matcher(pattern).every(block):
                    line = block.text[start : block.text.find("\n", start)].strip()
                    note = f"{sig.name}: {line}"
                    if len(self.notes) < MAX_NOTES and note not in self.notes and not sig.rejects(line):
                        self.notes.append(note)

    def _fallback(self, block: Block) -> None:
        """Remember the last error-looking line (OTHER's evidence) and the last non-blank one."""
        text = block.text
        error_line = compile_matcher(self.cat.error_line)
        found = error_line.last(block, lambda line: not self.cat.is_boilerplate(line))
        if found is not None:
            line = text[found : text.find("\n", found)]
            self.last_error = (self.lines_before + text.count("\n", 0, found) + 1, line.strip())
        stripped = text.rstrip()
        if stripped:
            start = stripped.rfind("\n") + 1
            self.last_line = (self.lines_before + stripped.count("\n") + 1, stripped[start:].strip())

    def diagnosis(self) -> Diagnosis:
        notes = tuple(self.notes)
        if self.hits:
            best = max(self.hits.values(), key=lambda h: (h.sig.priority, -h.line_number))
            evidence = tuple(_short(line.strip()) for line in best.lines)
            return Diagnosis(best.sig.name, evidence, best.line_number, best.sig.hint, notes)
        found = self.last_error or self.last_line
        if found is None:
            return Diagnosis(OTHER, (), None, "the log is empty", notes)
        return Diagnosis(OTHER, (_short(found[1]),), found[0], OTHER_HINT, notes)


def _first(sig: Signature, block: Block) -> int | None:
    """Offset of the earliest line of ``block`` that is evidence for ``sig``."""

    def accept(line: str) -> bool:
        return not sig.rejects(line)

    offsets = (compile_matcher(p).first(block, accept=accept) for p in sig.patterns)
    return min((o for o in offsets if o is not None), default=None)


def _short(line: str) -> str:
    return line if len(line) <= MAX_EVIDENCE_CHARS else line[:MAX_EVIDENCE_CHARS] + " ..."

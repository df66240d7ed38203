"""Log text as blocks of whole lines, streamed: never a whole log in memory.

Build and test logs arrive as bytes that are not always UTF-8, with ANSI
colour codes, CRLF line ends and carriage-return progress bars
(``50%\\r100%``). The classifier reads them as blocks of about ``BLOCK``
bytes, each made of whole lines ending in ``\\n`` (``byte_blocks_*``), and turns
only the lines it looks at into text (``line_text``):

- ANSI escape sequences (colours, cursor moves, OSC titles) are removed;
- bytes that are not UTF-8 become lone surrogates (``surrogateescape``: the line
  is kept, and ``printable`` shows each such byte as ``\\\\xNN``);
- a line rewritten with carriage returns keeps only its last state, as a
  terminal would show it; CRLF becomes LF;
- a line longer than ``MAX_LINE`` (1 MiB) is cut there and the rest dropped,
  so one gigantic line cannot exhaust memory.

Removing these never joins or splits lines, so line numbers stay those of
the original log. Escape sequences and carriage returns stay in the byte
blocks and are resolved line by line, which is what makes the byte blocks
cheap: a search there sees every state of a redrawn line, a superset of what
the terminal shows, and ``linematch.NeedleSet`` also finds the words that a
sequence breaks (``strip_ansi`` removes them from a whole block when that is
cheaper).
``blocks_from_stream`` / ``blocks_from_lines`` give the same blocks as clean text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

BLOCK = 1 << 20
MAX_LINE = 1 << 20

_ANSI_TEXT = r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[@-Z\\-_])"
_ANSI = re.compile(_ANSI_TEXT)
_ANSI_BYTES = re.compile(_ANSI_TEXT.encode())


def clean(text: str) -> str:
    """``text`` without ANSI sequences and carriage returns; line count unchanged."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            text = _last_states(text)
    return text


def _last_states(text: str) -> str:
    """Each line holding a bare carriage return, reduced to its last non-empty state."""
    out = []
    pos = 0
    while (cr := text.find("\r", pos)) >= 0:
        start = text.rfind("\n", 0, cr) + 1
        end = text.find("\n", cr)
        end = len(text) if end < 0 else end
        states = [part for part in text[start:end].split("\r") if part]
        out += [text[pos:start], states[-1] if states else ""]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def strip_ansi(data: bytes) -> bytes:
    """``data`` without ANSI escape sequences, exactly as ``clean`` removes them from text."""
    return _ANSI_BYTES.sub(b"", data) if b"\x1b" in data else data


def line_text(raw: bytes, ansi: bool = True) -> str:
    """One line of a byte block (without its newline) as the terminal shows it; ``ansi=False``:
    its escape sequences were removed already (removing them twice could remove more)."""
    text = (strip_ansi(raw) if ansi else raw).decode("utf-8", "surrogateescape")
    if "\r" in text:
        states = [part for part in text.split("\r") if part]
        text = states[-1] if states else ""
    return text


def printable(line: str) -> str:
    """``line`` safe to print: control characters, other unprintable characters and undecodable
    bytes escaped (``\\x1b``, ``\\u2028``, ``\\xff``); tabs kept."""
    if line.isprintable():
        return line
    return "".join(ch if ch.isprintable() or ch == "\t" else _escape(ch) for ch in line)


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def byte_blocks_from_stream(stream: BinaryIO, block: int | None = None) -> Iterator[bytes]:
    """Blocks of whole lines (sequences and carriage returns kept) from a binary stream, read
    ``block`` bytes at a time."""
    block = block or BLOCK
    carry = b""
    skipping = False  # inside the dropped tail of an over-long line
    while chunk := stream.read(block):
        if skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                continue
            chunk, skipping = chunk[newline + 1 :], False
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        whole, carry = data[:cut], data[cut:]
        if len(carry) > MAX_LINE:
            whole, carry, skipping = whole + carry[:MAX_LINE] + b"\n", b"", True
        if whole:
            yield whole
    if carry:
        yield carry + b"\n"


def byte_blocks_from_lines(lines: Iterable[str | bytes], block: int | None = None) -> Iterator[bytes]:
    """Blocks like ``byte_blocks_from_stream``'s from lines (str or bytes, with or without line ends).

    A string holding several lines counts as several lines.
    """
    block = block or BLOCK
    parts: list[bytes] = []
    size = 0
    for line in lines:
        data = line if isinstance(line, bytes) else _encode(line)
        data = data[:-1] if data.endswith(b"\n") else data
        parts.append(data[:MAX_LINE])
        size += len(parts[-1]) + 1
        if size >= block:
            yield b"\n".join(parts) + b"\n"
            parts, size = [], 0
    if parts:
        yield b"\n".join(parts) + b"\n"


def _encode(text: str) -> bytes:
    """``text`` as UTF-8; undecodable bytes kept by ``surrogateescape`` go back to what they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates: keep them visible
        return text.encode("utf-8", "backslashreplace")


def blocks_from_stream(stream: BinaryIO, block: int | None = None) -> Iterator[str]:
    """Clean text blocks of whole lines from a binary stream (``byte_blocks_from_stream``, as text)."""
    for data in byte_blocks_from_stream(stream, block):
        yield clean(data.decode("utf-8", "surrogateescape"))


def blocks_from_lines(lines: Iterable[str | bytes], block: int | None = None) -> Iterator[str]:
    """Clean text blocks from an iterable of lines (``byte_blocks_from_lines``, as text)."""
    for data in byte_blocks_from_lines(lines, block):
        yield clean(data.decode("utf-8", "surrogateescape"))

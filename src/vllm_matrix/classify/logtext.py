"""Log text as blocks of clean, whole lines, streamed: never a whole log in memory.

Build and test logs arrive as bytes that are not always UTF-8, with ANSI
colour codes, CRLF line ends and carriage-return progress bars
(``50%\\r100%``). This module turns a binary stream, or any iterable of
lines, into blocks of about ``BLOCK`` characters, each made of whole lines
ending in ``\\n``, where:

- bytes that are not UTF-8 become lone surrogates (``surrogateescape``: the line
  is kept, and ``printable`` shows each such byte as ``\\xNN``);
- ANSI escape sequences (colours, cursor moves, OSC titles) are removed;
- a line rewritten with carriage returns keeps only its last state, as a
  terminal would show it; CRLF becomes LF;
- a line longer than ``MAX_LINE`` (1 MiB) is cut there and the rest dropped,
  so one gigantic line cannot exhaust memory.

Removing these never joins or splits lines, so line numbers stay those of
the original log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

BLOCK = 1 << 20
MAX_LINE = 1 << 20

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


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


def blocks_from_stream(stream: BinaryIO, block: int | None = None) -> Iterator[str]:
    """Clean blocks of whole lines from a binary stream, read ``block`` bytes at a time.

    Blocks are cut after a newline byte, which never lies inside a UTF-8 sequence,
    so each block decodes on its own.
    """
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
            yield clean(whole.decode("utf-8", "surrogateescape"))
    if carry:
        yield clean(carry.decode("utf-8", "surrogateescape") + "\n")


def blocks_from_lines(lines: Iterable[str | bytes], block: int | None = None) -> Iterator[str]:
    """Clean blocks from an iterable of lines (str or bytes, with or without their line end).

    A string holding several lines counts as several lines.
    """
    block = block or BLOCK
    parts: list[str] = []
    size = 0
    for line in lines:
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        text = text[:-1] if text.endswith("\n") else text
        parts.append(text[:MAX_LINE] if len(text) > MAX_LINE else text)
        size += len(text) + 1
        if size >= block:
            yield clean("\n".join(parts) + "\n")
            parts, size = [], 0
    if parts:
        yield clean("\n".join(parts) + "\n")

"""Logs become clean whole lines, streamed, with line numbers kept."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_matrix.classify import logtext


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[1m\x1b[31merror\x1b[0m: boom\n", "error: boom\n"),  # SGR colours
        ("\x1b]0;ninja: building\x07[3/9] cc\n", "[3/9] cc\n"),  # an OSC window title
        ("\x1b[2K\x1b[1G[4/9] cc\n", "[4/9] cc\n"),  # ninja's erase-line and cursor moves
        ("line\r\n", "line\n"),
        ("10%\r50%\r100%\r\n", "100%\n"),  # a progress bar: what the terminal shows last
        ("done\r\n\rnext\n", "done\nnext\n"),
    ],
)
def test_clean(raw: str, clean: str) -> None:
    assert logtext.clean(raw) == clean


@given(st.text(alphabet=st.sampled_from(["a", " ", "\n", "\r", "\x1b", "[", "3", "1", "m", "é"])))
def test_cleaning_never_changes_the_line_count(text: str) -> None:
    assert logtext.clean(text).count("\n") == text.count("\n")


def test_stream_blocks_are_whole_lines_and_keep_bad_bytes() -> None:
    data = b"caf\xc3\xa9 ok\nlatin-1 \xe9 byte\r\nlast line without newline"
    blocks = list(logtext.blocks_from_stream(io.BytesIO(data), block=7))
    assert all(b.endswith("\n") for b in blocks)
    text = "".join(blocks)
    assert text == "café ok\nlatin-1 \udce9 byte\nlast line without newline\n"  # surrogateescape
    assert text.encode("utf-8", "surrogateescape") == data.replace(b"\r\n", b"\n") + b"\n"


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("plain text: ünïcode ✓", "plain text: ünïcode ✓"),
        ("tab\tkept", "tab\tkept"),
        ("bell\x07 nul\x00 del\x7f", "bell\\x07 nul\\x00 del\\x7f"),
        ("c1 \x9b and a line separator \u2028", "c1 \\x9b and a line separator \\u2028"),
        (
            "bad bytes \udcff\udc80",
            "bad bytes \\xff\\x80",
        ),  # undecodable bytes, as surrogateescape keeps them
    ],
)
def test_printable_escapes_what_a_terminal_would_not_show(line: str, shown: str) -> None:
    assert logtext.printable(line) == shown
    assert logtext.printable(line).isprintable() or "\t" in line


def test_a_line_split_inside_a_utf8_sequence_is_still_decoded() -> None:
    data = "ü\n".encode() * 5
    assert "".join(logtext.blocks_from_stream(io.BytesIO(data), block=3)) == "ü\n" * 5


def test_a_huge_line_is_cut_and_the_rest_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logtext, "MAX_LINE", 100)
    data = b"x" * 1000 + b"\nnext\n"
    text = "".join(logtext.blocks_from_stream(io.BytesIO(data), block=64))
    assert text.split("\n")[1:] == ["next", ""]
    assert 100 <= len(text.split("\n")[0]) < 1000


def test_lines_as_str_or_bytes_with_or_without_ends() -> None:
    lines: list[str | bytes] = ["a\n", b"b\r\n", "c", b"\xff", "", "d\n"]
    assert "".join(logtext.blocks_from_lines(lines, block=4)) == "a\nb\nc\n\udcff\n\nd\n"


CHARS = ["a", " ", "\n", "\r", "\x1b", "[", "]", "3", "1", "m", "é", "\x07", "\udcff"]
TEXTS = st.text(alphabet=st.sampled_from(CHARS))


@given(TEXTS)
def test_byte_blocks_and_line_text_show_what_clean_shows(text: str) -> None:
    data = text.encode("utf-8", "surrogateescape")
    via_bytes = [
        logtext.line_text(line)
        for block in logtext.byte_blocks_from_stream(io.BytesIO(data), block=5)
        for line in block.split(b"\n")[:-1]
    ]
    whole = logtext.clean(text if text.endswith("\n") or not text else text + "\n")
    assert via_bytes == whole.split("\n")[:-1]
    assert logtext.strip_ansi(data) == logtext._ANSI.sub("", text).encode("utf-8", "surrogateescape")

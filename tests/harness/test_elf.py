"""Section lookup in ELF files of either class and byte order, and clear refusals otherwise."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from vllm_matrix.archaudit import elf

FIXTURES = Path(__file__).parents[1] / "resources" / "fatbin"


def tiny_elf(is64: bool, endian: str, payload: bytes, extended: bool = False) -> bytes:
    """An ELF file with sections: null, .nv_fatbin (``payload``), .shstrtab."""
    names = b"\0.nv_fatbin\0.shstrtab\0"
    ehsize, shentsize = (64, 64) if is64 else (52, 40)
    data_off = ehsize
    names_off = data_off + len(payload)
    shoff = names_off + len(names)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if endian == "<" else 2, 1, 0]) + bytes(8)
    shnum, shstrndx = (0, 0xFFFF) if extended else (3, 2)
    # e_type .. e_shstrndx: a shared object for x86-64 (ELF64) or i386 (ELF32)
    fields = (3, 62 if is64 else 3, 1, 0, 0, shoff, 0, ehsize, 0, 0, shentsize, shnum, shstrndx)
    rest = struct.pack(endian + ("HHIQQQIHHHHHH" if is64 else "HHIIIIIHHHHHH"), *fields)
    sh = endian + ("IIQQQQIIQQ" if is64 else "IIIIIIIIII")
    # section 0 carries the real count and name-table index under extended numbering
    null = struct.pack(sh, 0, 0, 0, 0, 0, 3 if extended else 0, 2 if extended else 0, 0, 0, 0)
    fat = struct.pack(sh, 1, 1, 2, 0, data_off, len(payload), 0, 0, 8, 0)
    strtab = struct.pack(sh, 12, 3, 0, 0, names_off, len(names), 0, 0, 1, 0)
    assert len(null) == shentsize
    return ident + rest + payload + names + null + fat + strtab


@pytest.mark.parametrize("is64", [True, False])
@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("extended", [False, True])
def test_finds_sections_in_every_layout(is64: bool, endian: str, extended: bool) -> None:
    info = elf.read(tiny_elf(is64, endian, b"FATBIN--", extended))
    section = info.section(".nv_fatbin")
    assert section is not None and section.size == 8
    assert [s.name for s in info.sections] == ["", ".nv_fatbin", ".shstrtab"]


def test_real_shared_object_and_cubin() -> None:
    so = elf.read_path(FIXTURES / "fa2_like.so")
    assert so.machine == 62 and so.section(".nv_fatbin") is not None
    cubin = elf.read_path(FIXTURES / "sm120a.cubin")
    assert cubin.machine == elf.EM_CUDA


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"#!/bin/sh\necho not a library\n" * 3, "no ELF magic"),
        (b"\x7fELF" + bytes([9, 1]) + bytes(60), "unknown ELF class"),
        (tiny_elf(True, "<", b"x")[:-30], "past the end"),
    ],
)
def test_refuses_what_is_not_a_whole_elf_file(data: bytes, message: str) -> None:
    with pytest.raises(elf.NotElf, match=message):
        elf.read(data)

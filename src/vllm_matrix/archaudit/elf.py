"""Just enough ELF to find a named section in a file, without reading the file whole.

The arch audit (``fatbin.py``) needs the ``.nv_fatbin`` section of a compiled
extension. vLLM's extensions run to hundreds of megabytes, so the file is
memory-mapped and only the ELF header, the section headers and the section
names are read. ELF32 and ELF64, little- and big-endian, and the extended
numbering (``e_shnum == 0`` / ``SHN_XINDEX``) are understood; nothing else of
ELF is.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x7fELF"
EM_CUDA = 190  # e_machine of a cubin (device code), as opposed to a host .so
SHT_NOBITS = 8
SHN_XINDEX = 0xFFFF


class NotElf(Exception):
    """The file is not an ELF file, or its headers are cut short or inconsistent."""


@dataclass(frozen=True)
class Section:
    """One section: its name and where its bytes lie in the file."""

    name: str
    offset: int
    size: int


@dataclass(frozen=True)
class ElfFile:
    """The parts of an ELF file the audit needs: its machine, flags and sections."""

    machine: int
    osabi: int
    flags: int
    sections: tuple[Section, ...]

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, if any."""
        return next((s for s in self.sections if s.name == name), None)


@dataclass(frozen=True)
class _Layout:
    """Struct formats and header offsets for one ELF class and byte order."""

    endian: str
    is64: bool

    def unpack(self, fmt: str, data: bytes | mmap.mmap, offset: int) -> tuple[int, ...]:
        return struct.unpack_from(self.endian + fmt, data, offset)

    @property
    def flags_offset(self) -> int:
        """Where e_flags starts; e_ehsize .. e_shstrndx (six u16) follow it."""
        return 0x30 if self.is64 else 0x24

    @property
    def shoff(self) -> tuple[str, int]:
        return ("Q", 0x28) if self.is64 else ("I", 0x20)

    @property
    def shdr(self) -> str:
        """Section header up to sh_link: name, type, flags, addr, offset, size, link."""
        return "IIQQQQI" if self.is64 else "IIIIIII"


def read(data: bytes | mmap.mmap) -> ElfFile:
    """Parse the ELF header and section table of ``data``; raise NotElf if it is not ELF."""
    if len(data) < 0x34 or data[:4] != MAGIC:
        raise NotElf("no ELF magic")
    if data[4] not in (1, 2) or data[5] not in (1, 2):
        raise NotElf(f"unknown ELF class {data[4]} or byte order {data[5]}")
    lay = _Layout("<" if data[5] == 1 else ">", data[4] == 2)
    try:
        return _read(data, lay)
    except struct.error as exc:
        raise NotElf(f"truncated ELF headers ({exc})") from None


def read_path(path: Path) -> ElfFile:
    """Parse the ELF headers of the file at ``path`` (memory-mapped, never read whole)."""
    with path.open("rb") as fobj:
        if path.stat().st_size == 0:
            raise NotElf("empty file")
        with mmap.mmap(fobj.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return read(data)


def _read(data: bytes | mmap.mmap, lay: _Layout) -> ElfFile:
    (machine,) = lay.unpack("H", data, 0x12)
    flags, _ehsize, _phentsize, _phnum, shentsize, shnum, shstrndx = lay.unpack(
        "IHHHHHH", data, lay.flags_offset
    )
    (shoff,) = lay.unpack(lay.shoff[0], data, lay.shoff[1])
    if shoff == 0:
        return ElfFile(machine, data[7], flags, ())
    raw = _section_headers(data, lay, shoff, shentsize, shnum)
    if shstrndx == SHN_XINDEX:
        shstrndx = raw[0][6]
    if shstrndx >= len(raw):
        raise NotElf(f"section name table index {shstrndx} out of range")
    names = raw[shstrndx]
    sections = tuple(
        Section(_name(data, names[4] + name), off, 0 if typ == SHT_NOBITS else size)
        for name, typ, _f, _a, off, size, _l in raw
    )
    for s in sections:
        if s.offset + s.size > len(data):
            raise NotElf(f"section {s.name!r} runs past the end of the file")
    return ElfFile(machine, data[7], flags, sections)


def _section_headers(
    data: bytes | mmap.mmap, lay: _Layout, shoff: int, shentsize: int, shnum: int
) -> list[tuple[int, ...]]:
    if shnum == 0:  # extended numbering: the count lives in section 0's sh_size
        shnum = lay.unpack(lay.shdr, data, shoff)[5]
    if shoff + shnum * shentsize > len(data):
        raise NotElf("section headers run past the end of the file")
    return [lay.unpack(lay.shdr, data, shoff + i * shentsize) for i in range(shnum)]


def _name(data: bytes | mmap.mmap, start: int) -> str:
    end = data.find(b"\0", start, start + 4096)
    return bytes(data[start : end if end >= 0 else start]).decode("ascii", "replace")

"""Which SASS and PTX architectures a compiled extension carries, read in pure Python.

nvcc puts a compiled file's device code into the ELF section ``.nv_fatbin``
(``__nv_relfatbin`` for relocatable device code) as one or more *fatbin
containers*, each a 16-byte header followed by entries. Every entry has its
own header naming its kind (PTX or ELF/SASS), its architecture and flags; the
payload after it may be compressed (nvcc 13 compresses by default). Only the
headers are read, so compressed entries need no decompression and a 300 MB
extension is audited by touching a few pages of it. No CUDA toolkit is needed.

Layout, as nvcc 13.0 writes it (checked against ``cuobjdump --list-elf/--list-ptx``)::

    container: u32 magic 0xBA55ED50, u16 version, u16 header size, u64 size of the entries
    entry:     u16 kind (1 PTX, 2 ELF), u16 version, u32 header size, u64 payload size,
               u32 compressed size, u32, u16 minor, u16 major (of PTX ISA / ELF ABI),
               u32 arch (e.g. 120), u32, u32, u64 flags, ...

Flags: 0x100000 arch-specific (``sm_90a``), 0x200000 family (``sm_120f``),
0x2000 / 0x8000 compressed. cuobjdump prints an ``sm_XYf`` cubin as ``sm_XY``;
this module keeps the ``f``.

Public API (used by the runner's verify stage)::

    audit_path(path: Path, gpu: str) -> list[ExtensionAudit]
        path: one file (.so, .o, .cubin, .fatbin), a directory (every such file
        under it) or a venv (its site-packages/vllm, or the source tree of an
        editable install). gpu: "sm_120", "12.0", ...
        Raises InputError if the path does not exist or the GPU is not understood.
    ExtensionAudit(path, sass, ptx, verdict, reason).to_dict()
        sass: ("sm_80", "sm_90a"); ptx: ("compute_80",); verdict: one of
        audit.VERDICTS ("native", "ptx-jit", "not-runnable", "no-fatbin", "not-elf").
    read_archs(path: Path) -> Archs        the SASS / PTX of one file, no verdict
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_matrix.archaudit import elf, installed
from vllm_matrix.archaudit import rules as audit

MAGIC = 0xBA55ED50
_MAGIC_BYTES = MAGIC.to_bytes(4, "little")
SECTIONS = (".nv_fatbin", "__nv_relfatbin")
KIND_PTX = 1
KIND_ELF = 2
FLAG_ARCH_SPECIFIC = 0x100000
FLAG_FAMILY = 0x200000
FLAG_COMPRESSED = 0x2000 | 0x8000
SUFFIXES = (".so", ".o", ".cubin", ".fatbin")

_CONTAINER = struct.Struct("<IHHQ")
_ENTRY = struct.Struct("<HHIQIIHHIIIQ")


class NoFatbin(Exception):
    """An ELF file without device code."""


class BadFatbin(Exception):
    """A fatbin section whose headers do not hold together."""


@dataclass(frozen=True)
class Entry:
    """One fatbin entry: SASS or PTX for one architecture."""

    kind: int
    arch: audit.Arch
    compressed: bool


@dataclass(frozen=True)
class Archs:
    """The distinct SASS and PTX architectures of one file, sorted."""

    sass: tuple[audit.Arch, ...]
    ptx: tuple[audit.Arch, ...]


@dataclass(frozen=True)
class ExtensionAudit:
    """The audit of one compiled file for one target GPU."""

    path: Path
    sass: tuple[str, ...]
    ptx: tuple[str, ...]
    verdict: str
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sass": list(self.sass),
            "ptx": list(self.ptx),
            "verdict": self.verdict,
            "reason": self.reason,
        }


def parse_entries(data: bytes | mmap.mmap, start: int = 0, end: int | None = None) -> list[Entry]:
    """Every entry of the fatbin containers laid end to end in ``data[start:end]``."""
    end = len(data) if end is None else end
    entries: list[Entry] = []
    pos = start
    while pos + _CONTAINER.size <= end:
        magic, _version, header_size, size = _CONTAINER.unpack_from(data, pos)
        if magic != MAGIC:
            pos = _skip_padding(data, pos, end)
            continue
        body = pos + header_size
        if body + size > end:
            raise BadFatbin(f"fatbin container at {pos:#x} runs past its section")
        entries.extend(_entries(data, body, body + size))
        pos = body + size
    return entries


def _skip_padding(data: bytes | mmap.mmap, pos: int, end: int) -> int:
    """The offset of the next container after zero padding (or ``end``); BadFatbin if not zeros."""
    found = data.find(_MAGIC_BYTES, pos, end)
    stop = end if found < 0 else found
    if any(data[pos:stop]):
        raise BadFatbin(f"no fatbin magic at offset {pos:#x}")
    return stop


def _entries(data: bytes | mmap.mmap, pos: int, end: int) -> Iterator[Entry]:
    while pos + _ENTRY.size <= end:
        kind, _v, header_size, payload, _c, _u, _mi, _ma, arch, _o, _l, flags = _ENTRY.unpack_from(data, pos)
        if header_size < _ENTRY.size:
            raise BadFatbin(f"fatbin entry at {pos:#x} has a header of {header_size} bytes")
        if kind in (KIND_PTX, KIND_ELF):
            variant = "a" if flags & FLAG_ARCH_SPECIFIC else "f" if flags & FLAG_FAMILY else ""
            yield Entry(kind, audit.Arch.from_number(arch, variant), bool(flags & FLAG_COMPRESSED))
        pos += header_size + payload


def read_archs(path: Path) -> Archs:
    """The SASS and PTX architectures in the file at ``path``.

    Raises ``elf.NotElf`` for a file that is neither ELF nor a bare fatbin, ``NoFatbin``
    for ELF without device code, ``BadFatbin`` for a damaged fatbin.
    """
    with path.open("rb") as fobj:
        if path.stat().st_size == 0:
            raise elf.NotElf("empty file")
        with mmap.mmap(fobj.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _archs(_read_entries(data))


def _read_entries(data: mmap.mmap) -> list[Entry]:
    if data[:4] == _MAGIC_BYTES:  # a bare .fatbin file
        return parse_entries(data)
    info = elf.read(data)
    if info.machine == elf.EM_CUDA:
        return [_cubin_entry(data, info)]
    found = [s for s in info.sections if s.name in SECTIONS]
    if not found:
        raise NoFatbin("no .nv_fatbin section")
    return [e for s in found for e in parse_entries(data, s.offset, s.offset + s.size)]


def _cubin_entry(data: mmap.mmap, info: elf.ElfFile) -> Entry:
    """A bare cubin: the sm is in e_flags; the a/f variant only in ptxas's note."""
    number = (info.flags >> 8) & 0xFF if info.osabi == 0x41 else info.flags & 0xFF
    note = info.section(".note.nv.tkinfo")
    variant = ""
    if note is not None:
        text = bytes(data[note.offset : note.offset + note.size])
        for suffix in ("a", "f"):
            if f"-arch sm_{number}{suffix} ".encode() in text:
                variant = suffix
    return Entry(KIND_ELF, audit.Arch.from_number(number, variant), False)


def _archs(entries: list[Entry]) -> Archs:
    sass = sorted({e.arch for e in entries if e.kind == KIND_ELF})
    ptx = sorted({e.arch for e in entries if e.kind == KIND_PTX})
    return Archs(tuple(sass), tuple(ptx))


def audit_file(path: Path, gpu: audit.Arch) -> ExtensionAudit:
    """The verdict for one file; never raises for a file's content, only says what it is."""
    try:
        archs = read_archs(path)
    except OSError as exc:
        return ExtensionAudit(path, (), (), audit.NOT_ELF, f"cannot read it ({exc.strerror or exc})")
    except elf.NotElf as exc:
        return ExtensionAudit(path, (), (), audit.NOT_ELF, f"not an ELF file ({exc})")
    except NoFatbin:
        return ExtensionAudit(path, (), (), audit.NO_FATBIN, "ELF without GPU code (no .nv_fatbin)")
    except BadFatbin as exc:
        return ExtensionAudit(path, (), (), audit.NOT_RUNNABLE, f"damaged fatbin: {exc}")
    if not archs.sass and not archs.ptx:
        return ExtensionAudit(path, (), (), audit.NO_FATBIN, "fatbin section holds no SASS or PTX")
    verdict, reason = audit.verdict(archs.sass, archs.ptx, gpu)
    sass = tuple(a.sass() for a in archs.sass)
    return ExtensionAudit(path, sass, tuple(a.ptx() for a in archs.ptx), verdict, reason)


def audit_path(path: Path, gpu: str) -> list[ExtensionAudit]:
    """Audit a file, every compiled file under a directory, or the vllm package of a venv."""
    target = audit.parse_gpu(gpu)
    return [audit_file(f, target) for f in installed.extension_files(path, SUFFIXES)]

"""Zero the fatbin entries an sm_90 GPU never loads, so a CUDA library compresses small.

Used by tools/h200/prepare.py to carry vLLM's kernel libraries to an H200
within a 64 MiB transfer. Entries kept: machine code for sm_90/sm_90a and PTX
for 9.0 or older (JIT-compiled where no sm_90 code exists). Others (SASS for
sm_75/80/86/89/100/120, newer PTX) are overwritten with zeros in place, so the
ELF layout and every offset stay as they were; the driver picks an entry by
its header and never reads the zeroed ones on sm_90.

Usage: python3 tools/prune_fatbin.py LIB.so [LIB.so ...]
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX = 1
KEEP_ARCH = 90


def section(data: bytes, name: str) -> tuple[int, int]:
    """(offset, size) of an ELF64 section by name."""
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    for header in headers:
        start = strtab + header[0]
        if data[start : data.index(b"\0", start)].decode() == name:
            return header[4], header[5]
    raise KeyError(f"no section {name}")


def prune(path: Path) -> int:
    """Zero the unneeded entries of ``path`` in place; returns the bytes zeroed."""
    data = bytearray(path.read_bytes())
    offset, size = section(bytes(data), ".nv_fatbin")
    pos, end, zeroed = offset, offset + size, 0
    while pos < end:
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", data, pos)
        if magic != FATBIN_MAGIC:
            pos += 8
            continue
        entry, entries_end = pos + header_size, pos + header_size + fat_size
        while entry < entries_end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
            (arch,) = struct.unpack_from("<I", data, entry + 28)
            if not (arch == KEEP_ARCH or (kind == KIND_PTX and arch <= KEEP_ARCH)):
                start = entry + entry_header
                data[start : start + payload] = bytes(payload)
                zeroed += payload
            entry += entry_header + payload
        pos = entries_end
    path.write_bytes(bytes(data))
    return zeroed


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: zeroed {prune(Path(name)) >> 20} MiB")

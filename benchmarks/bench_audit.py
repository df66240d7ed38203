"""Time to audit a directory of compiled extensions totalling several hundred MB.

Run: ``python3 benchmarks/bench_audit.py [DIR]``. Prints figures; asserts nothing.
Without DIR, it writes into /tmp shared objects shaped like vLLM's (a 300 MB
FA2-like file of thousands of sm_80 + compute_80 entries, a _C-like file with
ten architectures, CPU-only files without a fatbin, ...): real ELF files with
a real ``.nv_fatbin`` section in nvcc's layout, their payloads zero-filled.
With DIR (e.g. an unpacked vllm wheel), it audits that instead. The audit reads
only headers through mmap, so the figure mostly measures page faults on the
pages holding entry headers (the files were just written, so they are in the
page cache: a cold disk adds its seek time).
"""

from __future__ import annotations

import struct
import sys
import tempfile
import time
from pathlib import Path

from vllm_matrix.archaudit import fatbin

ENTRY = struct.Struct("<HHIQIIHHIIIQ")
CONTAINER = struct.Struct("<IHHQ")
ENTRY_HEADER = 64
MB = 1 << 20

# name -> (size in MB, [(kind, arch, flags)] repeated until the size is reached)
PLAN: dict[str, tuple[int, list[tuple[int, int, int]]]] = {
    "vllm_flash_attn/_vllm_fa2_C.abi3.so": (300, [(2, 80, 0x11), (1, 80, 0x8011)]),
    "vllm_flash_attn/_vllm_fa3_C.abi3.so": (150, [(2, 90, 0x100011)]),
    "_C.abi3.so": (
        80,
        [(2, a, 0x11) for a in (75, 80, 86, 89, 90, 100, 120)] + [(2, 90, 0x100011), (1, 90, 0x11)],
    ),
    "_moe_C.abi3.so": (48, [(2, a, 0x11) for a in (80, 90, 120)] + [(2, 100, 0x200011)]),
    "_flashmla_C.abi3.so": (2, [(2, 90, 0x100011), (2, 100, 0x200011)]),
    "cumem_allocator.abi3.so": (0, []),
}


def fatbin_section(size: int, entries: list[tuple[int, int, int]], payload: int) -> bytes:
    """Containers of ``entries`` (cycled), each entry with a zero payload, about ``size`` bytes."""
    body = bytearray()
    pad = bytes(payload)
    while len(body) < size:
        container = bytearray()
        for kind, arch, flags in entries:
            minor, major = (8, 1) if kind == 2 else (0, 9)
            head = ENTRY.pack(kind, 0x101, ENTRY_HEADER, payload, 0, 0, minor, major, arch, 0, 0, flags)
            container += head + bytes(ENTRY_HEADER - len(head)) + pad
        body += CONTAINER.pack(fatbin.MAGIC, 1, 16, len(container)) + container
    return bytes(body)


def elf(sections: dict[str, bytes]) -> bytes:
    """A minimal ELF64 shared object holding ``sections`` and a section name table."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n in [*sections, ".shstrtab"])
    blobs = [*sections.values(), names]
    offsets, pos = [], 64
    for blob in blobs:
        offsets.append(pos)
        pos += len(blob) + (-len(blob) % 8)
    shnum = len(blobs) + 1
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, pos, 0, 64, 0, 0, 64, shnum, shnum - 1)
    table = bytes(64)
    name_at = 1
    for i, (name, blob) in enumerate(zip([*sections, ".shstrtab"], blobs, strict=True)):
        kind = 3 if name == ".shstrtab" else 1
        table += struct.pack("<IIQQQQIIQQ", name_at, kind, 2, 0, offsets[i], len(blob), 0, 0, 8, 0)
        name_at += len(name) + 1
    out = bytearray(header)
    for blob in blobs:
        out += blob + bytes(-len(blob) % 8)
    return bytes(out + table)


def generate(root: Path) -> int:
    total = 0
    for name, (megabytes, entries) in PLAN.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sections = {".text": bytes(4096)}
        if entries:
            sections[".nv_fatbin"] = fatbin_section(megabytes * MB, entries, payload=60_000)
        path.write_bytes(elf(sections))
        total += path.stat().st_size
    return total


def audit(root: Path) -> None:
    total = sum(p.stat().st_size for p in fatbin.extension_files(root))
    for gpu in ("sm_120", "sm_90", "sm_80"):
        start = time.perf_counter()
        results = fatbin.audit_path(root, gpu)
        took = time.perf_counter() - start
        verdicts = ", ".join(f"{r.path.name}={r.verdict}" for r in results if r.verdict != "no-fatbin")
        print(f"  {gpu}: {len(results)} files, {total / 1e6:.0f} MB in {took * 1000:.0f} ms: {verdicts}")


def main() -> None:
    if len(sys.argv) > 1:
        print(f"auditing {sys.argv[1]}")
        audit(Path(sys.argv[1]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        start = time.perf_counter()
        total = generate(Path(tmp))
        took = time.perf_counter() - start
        print(f"generated {len(PLAN)} files, {total / 1e6:.0f} MB, in {took:.1f} s: {tmp}")
        audit(Path(tmp))


if __name__ == "__main__":
    main()

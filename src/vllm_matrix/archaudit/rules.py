"""Which compiled GPU code a given GPU can run: the verdict of the arch audit.

An extension carries SASS (machine code, ``sm_XY``) and/or PTX (``compute_XY``,
compiled to machine code by the driver at load time). The rules implemented,
after NVIDIA's CUDA compatibility guide (CUDA 12.9+ for the ``f`` variants):

- plain SASS ``sm_XY`` runs on a GPU of the same major version and an equal
  or higher minor (``sm_80`` runs on 8.6 and 8.9, never on 9.0 or 12.0);
- family SASS ``sm_XYf`` runs like plain SASS: same major, minor >= Y
  (``sm_100f`` runs on 10.0 and 10.3; ``sm_120f`` on 12.0 and 12.1);
- arch-specific SASS ``sm_XYa`` runs only on exactly that GPU (``sm_90a`` on 9.0);
- plain PTX ``compute_XY`` can be JIT-compiled for any GPU of compute
  capability >= X.Y (``compute_80`` runs on 12.0, through JIT);
- family PTX ``compute_XYf`` JIT-compiles for the same major with minor >= Y;
- arch-specific PTX ``compute_XYa`` JIT-compiles only for exactly X.Y.

Verdicts: ``native`` (some SASS runs), ``ptx-jit`` (no SASS runs but some PTX
can be JIT-compiled: it works, slower to load, and never with the
arch-specific instructions), ``not-runnable`` (neither: ``no kernel image is
available``). The audit also says ``no-fatbin`` (an ELF file without device
code, e.g. a CPU-only extension) and ``not-elf``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vllm_matrix.errors import InputError

NATIVE = "native"
PTX_JIT = "ptx-jit"
NOT_RUNNABLE = "not-runnable"
NO_FATBIN = "no-fatbin"
NOT_ELF = "not-elf"
VERDICTS = (NATIVE, PTX_JIT, NOT_RUNNABLE, NO_FATBIN, NOT_ELF)

_GPU = re.compile(r"(?:sm_?|compute_?)?(\d{1,2})\.?(\d)([af]?)")


@dataclass(frozen=True, order=True)
class Arch:
    """A compute capability with its variant: ``""`` plain, ``"a"`` arch-specific, ``"f"`` family."""

    major: int
    minor: int
    variant: str = ""

    @classmethod
    def from_number(cls, number: int, variant: str = "") -> Arch:
        """``Arch.from_number(120, "a")`` is sm_120a (12.0, arch-specific)."""
        return cls(number // 10, number % 10, variant)

    @property
    def number(self) -> int:
        return self.major * 10 + self.minor

    def sass(self) -> str:
        return f"sm_{self.number}{self.variant}"

    def ptx(self) -> str:
        return f"compute_{self.number}{self.variant}"


def parse_gpu(text: str) -> Arch:
    """A target GPU from ``sm_120``, ``120``, ``12.0`` or ``sm_90a``; the variant is dropped.

    A GPU has no variant: ``sm_90a`` names the GPU 9.0.
    """
    m = _GPU.fullmatch(text.strip().lower())
    if not m:
        raise InputError(f"--gpu {text!r}: expected a compute capability such as sm_120, 120 or 12.0")
    return Arch(int(m.group(1)), int(m.group(2)))


def sass_runs(sass: Arch, gpu: Arch) -> bool:
    """Whether the driver can load this SASS on ``gpu`` without JIT."""
    if sass.variant == "a":
        return (sass.major, sass.minor) == (gpu.major, gpu.minor)
    return sass.major == gpu.major and sass.minor <= gpu.minor


def ptx_jits(ptx: Arch, gpu: Arch) -> bool:
    """Whether the driver can JIT-compile this PTX for ``gpu``."""
    if ptx.variant == "a":
        return (ptx.major, ptx.minor) == (gpu.major, gpu.minor)
    if ptx.variant == "f":
        return ptx.major == gpu.major and ptx.minor <= gpu.minor
    return (ptx.major, ptx.minor) <= (gpu.major, gpu.minor)


def verdict(sass: tuple[Arch, ...], ptx: tuple[Arch, ...], gpu: Arch) -> tuple[str, str]:
    """The verdict for code carrying ``sass`` and ``ptx`` on ``gpu``, and one line saying why."""
    target = gpu.sass()
    native = [a.sass() for a in sass if sass_runs(a, gpu)]
    if native:
        return NATIVE, f"SASS {', '.join(native)} runs on {target}"
    jit = [a.ptx() for a in ptx if ptx_jits(a, gpu)]
    if jit:
        return PTX_JIT, f"no SASS for {target}; PTX {', '.join(jit)} is JIT-compiled by the driver"
    carried = ", ".join([a.sass() for a in sass] + [a.ptx() for a in ptx]) or "nothing"
    return NOT_RUNNABLE, f"carries {carried}: none runs on {target} (no kernel image)"

"""What this machine has: NVIDIA GPUs and their compute capability, the driver, nvcc.

Used to decide which cells can run here: a cell whose ``gpu`` (``sm_120``, ...)
is not present is a ``skip`` with the reason, unless ``--force``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

QUERY_TIMEOUT_S = 20


@dataclass(frozen=True)
class Gpu:
    """One GPU as nvidia-smi reports it."""

    name: str
    compute_cap: str  # "12.0"
    driver: str

    @property
    def sm(self) -> str:
        """``12.0`` -> ``sm_120``: the form matrix cells use."""
        major, _, minor = self.compute_cap.partition(".")
        return f"sm_{major}{minor or '0'}"


@dataclass(frozen=True)
class Hardware:
    """The accelerators and toolchain of this machine."""

    gpus: tuple[Gpu, ...] = ()
    nvcc_version: str | None = None
    nvcc_archs: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def sms(self) -> tuple[str, ...]:
        """The distinct ``sm_XY`` of the GPUs present."""
        return tuple(dict.fromkeys(g.sm for g in self.gpus))

    def lacks(self, gpu: str) -> str | None:
        """Why a cell for ``gpu`` cannot run here, or None when it can."""
        if gpu == "cpu":
            return None
        if not self.gpus:
            why = "; ".join(self.notes) or "no NVIDIA GPU found"
            return f"needs an NVIDIA {gpu} GPU; this machine has none ({why})"
        if gpu.rstrip("af") not in self.sms:
            return f"needs an NVIDIA {gpu} GPU; this machine has {', '.join(self.sms)}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gpus": [{"name": g.name, "compute_cap": g.compute_cap, "driver": g.driver} for g in self.gpus],
            "nvcc_version": self.nvcc_version,
            "nvcc_archs": list(self.nvcc_archs),
            "notes": list(self.notes),
        }


def detect(nvidia_smi: str = "nvidia-smi", nvcc: str = "nvcc") -> Hardware:
    """Ask nvidia-smi and nvcc (found on PATH); a missing tool is a note, never an error."""
    gpus, gpu_note = _gpus(nvidia_smi)
    version, archs, nvcc_note = _nvcc(nvcc)
    notes = tuple(n for n in (gpu_note, nvcc_note) if n)
    return Hardware(gpus=gpus, nvcc_version=version, nvcc_archs=archs, notes=notes)


def _query(argv: list[str]) -> tuple[str | None, str | None]:
    """stdout of a short query, or (None, why it failed)."""
    exe = shutil.which(argv[0])
    if exe is None:
        return None, f"{argv[0]} not on PATH"
    try:
        done = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=QUERY_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{argv[0]} failed: {exc}"
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
        return None, f"{argv[0]} exited {done.returncode}: {last[0]}".rstrip(": ")
    return done.stdout, None


def _gpus(nvidia_smi: str) -> tuple[tuple[Gpu, ...], str | None]:
    out, note = _query([nvidia_smi, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"])
    if out is None:
        return (), note
    return parse_gpus(out), None


def parse_gpus(text: str) -> tuple[Gpu, ...]:
    """Parse ``name, compute_cap, driver`` CSV lines from nvidia-smi."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        if len(parts) == 3 and re.match(r"^\d+\.\d+$", parts[1]):
            gpus.append(Gpu(name=parts[0], compute_cap=parts[1], driver=parts[2]))
    return tuple(gpus)


def _nvcc(nvcc: str) -> tuple[str | None, tuple[str, ...], str | None]:
    out, note = _query([nvcc, "--version"])
    if out is None:
        return None, (), note
    match = re.search(r"release (\d+\.\d+)", out)
    archs_out, _ = _query([nvcc, "--list-gpu-arch"])
    archs = tuple(archs_out.split()) if archs_out else ()
    return (match.group(1) if match else None), archs, None

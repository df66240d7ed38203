"""hardware.detect with a stand-in nvidia-smi (a Blackwell GPU cannot exist here) and without one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vllm_matrix import hardware


def _tool(bindir: Path, name: str, body: str) -> None:
    path = bindir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_blackwell_machine_runs_sm120_cells_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tool(tmp_path, "nvidia-smi", "echo 'NVIDIA GeForce RTX 5090, 12.0, 580.65.06'")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    hw = hardware.detect()
    assert hw.sms == ("sm_120",) and hw.gpus[0].driver == "580.65.06"
    assert hw.lacks("sm_120") is None and hw.lacks("cpu") is None
    assert hw.lacks("sm_100") == "needs an NVIDIA sm_100 GPU; this machine has sm_120"


def test_no_nvidia_smi_means_gpu_cells_say_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    hw = hardware.detect()
    assert hw.gpus == ()
    assert (
        hw.lacks("sm_120")
        == "needs an NVIDIA sm_120 GPU; this machine has none (nvidia-smi not on PATH; nvcc not on PATH)"
    )


def test_failing_nvidia_smi_is_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tool(
        tmp_path,
        "nvidia-smi",
        "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver' >&2; exit 9",
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    reason = hardware.detect().lacks("sm_120") or ""
    assert "nvidia-smi exited 9: NVIDIA-SMI has failed" in reason


def test_nvcc_version_and_archs_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = "Cuda compilation tools, release 13.0, V13.0.48"
    _tool(
        tmp_path,
        "nvcc",
        f'if [ "$1" = --version ]; then echo "{version}"; else echo "compute_75 compute_120"; fi',
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    hw = hardware.detect()
    assert hw.nvcc_version == "13.0" and hw.nvcc_archs == ("compute_75", "compute_120")
    assert hw.to_dict()["nvcc_version"] == "13.0"


def test_parse_gpus_keeps_names_with_commas() -> None:
    (gpu,) = hardware.parse_gpus("NVIDIA B200, Rev 1, 10.0, 580.1\n\n")
    assert gpu.name == "NVIDIA B200, Rev 1" and gpu.sm == "sm_100"

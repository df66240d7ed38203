"""Verdict rules (which code a GPU can run) and the ``vllm-matrix audit`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vllm_matrix import cli
from vllm_matrix.archaudit import rules as audit
from vllm_matrix.archaudit.rules import Arch

FIXTURES = Path(__file__).parents[1] / "resources" / "fatbin"


@pytest.mark.parametrize(
    ("text", "arch"),
    [("sm_120", Arch(12, 0)), ("120", Arch(12, 0)), ("12.0", Arch(12, 0)), ("sm_90a", Arch(9, 0)),
     ("SM_75", Arch(7, 5)), ("compute_103", Arch(10, 3)), ("8.6", Arch(8, 6))],
)  # fmt: skip
def test_parse_gpu(text: str, arch: Arch) -> None:
    assert audit.parse_gpu(text) == arch


@pytest.mark.parametrize("text", ["", "blackwell", "sm_", "sm_1200", "12.0.1"])
def test_parse_gpu_rejects_nonsense(text: str) -> None:
    with pytest.raises(audit.InputError):
        audit.parse_gpu(text)


@pytest.mark.parametrize(
    ("sass", "gpu", "runs"),
    [
        ("sm_80", "sm_86", True),  # same major, higher minor
        ("sm_86", "sm_80", False),
        ("sm_80", "sm_90", False),  # never across majors
        ("sm_90", "sm_120", False),
        ("sm_90a", "sm_90", True),
        ("sm_100a", "sm_103", False),  # arch-specific: exactly that sm
        ("sm_100f", "sm_103", True),  # family: same major, minor >= 0
        ("sm_103f", "sm_100", False),
        ("sm_120f", "sm_121", True),
        ("sm_120", "sm_121", True),
    ],
)
def test_sass_compatibility(sass: str, gpu: str, runs: bool) -> None:
    arch = Arch.from_number(int(sass[3:].rstrip("af")), sass[-1] if sass[-1] in "af" else "")
    assert audit.sass_runs(arch, audit.parse_gpu(gpu)) is runs


@pytest.mark.parametrize(
    ("ptx", "gpu", "jits"),
    [
        (Arch(8, 0), "sm_120", True),  # FA2's 8.0+PTX on Blackwell
        (Arch(12, 0), "sm_90", False),  # never down
        (Arch(9, 0, "a"), "sm_90", True),
        (Arch(9, 0, "a"), "sm_100", False),
        (Arch(10, 0, "f"), "sm_103", True),
        (Arch(10, 0, "f"), "sm_120", False),
    ],
)
def test_ptx_jit_compatibility(ptx: Arch, gpu: str, jits: bool) -> None:
    assert audit.ptx_jits(ptx, audit.parse_gpu(gpu)) is jits


def test_verdict_prefers_native_then_jit_and_names_what_it_found() -> None:
    gpu = Arch(12, 0)
    assert audit.verdict((Arch(8, 0), Arch(12, 0)), (Arch(8, 0),), gpu)[0] == audit.NATIVE
    assert audit.verdict((Arch(8, 0),), (Arch(8, 0),), gpu) == (
        audit.PTX_JIT,
        "no SASS for sm_120; PTX compute_80 is JIT-compiled by the driver",
    )
    verdict, reason = audit.verdict((Arch(9, 0, "a"),), (), gpu)
    assert verdict == audit.NOT_RUNNABLE
    assert "sm_90a" in reason


def venv_with_vllm(root: Path) -> Path:
    pkg = root / "lib" / "python3.12" / "site-packages" / "vllm"
    (pkg / "vllm_flash_attn").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    shutil.copy(FIXTURES / "multi.so", pkg / "_C.abi3.so")
    shutil.copy(FIXTURES / "cpu_only.so", pkg / "cumem_allocator.abi3.so")
    shutil.copy(FIXTURES / "fa2_like.so", pkg / "vllm_flash_attn" / "_vllm_fa2_C.abi3.so")
    shutil.copy(FIXTURES / "fa3_like.so", pkg / "vllm_flash_attn" / "_vllm_fa3_C.abi3.so")
    return root


def test_cli_prints_a_table_for_a_venv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", str(venv_with_vllm(tmp_path)), "--gpu", "sm_120"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["extension", "sass", "ptx", "on", "sm_120"]
    rows = {line.split()[0]: line.split()[-1] for line in lines[1:-1]}
    assert rows == {
        "_C.abi3.so": "native",
        "cumem_allocator.abi3.so": "no-fatbin",
        "vllm_flash_attn/_vllm_fa2_C.abi3.so": "ptx-jit",
        "vllm_flash_attn/_vllm_fa3_C.abi3.so": "not-runnable",
    }
    assert lines[-1] == "1 native, 1 ptx-jit, 1 not-runnable, 1 no-fatbin"


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", str(FIXTURES / "fa2_like.so"), "--gpu", "12.0", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["sass"] == ["sm_80"] and row["ptx"] == ["compute_80"] and row["verdict"] == "ptx-jit"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit", "/no/such/venv", "--gpu", "sm_120"], "no such file or directory"),
        (["audit", str(FIXTURES), "--gpu", "rtx5090"], "expected a compute capability"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1

"""buildtools: the compiler, nvcc's archs and torch's CUDA a build would use, and what they cannot do."""

from __future__ import annotations

import os
from pathlib import Path

from vllm_matrix import buildtools

NVCC = """#!/bin/sh
case "$1" in
  --version) echo "Cuda compilation tools, release 13.0, V13.0.88";;
  --list-gpu-arch) printf 'compute_75\\ncompute_80\\ncompute_90\\ncompute_100\\ncompute_120\\n';;
  *) exit 1;;
esac
"""


def fake_cuda(tmp_path: Path) -> Path:
    home = tmp_path / "cuda"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "nvcc").write_text(NVCC)
    os.chmod(home / "bin" / "nvcc", 0o755)
    return home


def fake_torch(venv: Path, cuda: str) -> None:
    path = venv / "lib" / "python3.11" / "site-packages" / "torch" / "version.py"
    path.parent.mkdir(parents=True)
    path.write_text(f"from typing import Optional\n__version__ = '2.13.0'\ncuda: Optional[str] = {cuda}\n")


def test_nvcc_version_and_archs_are_read_from_the_toolkit(tmp_path: Path) -> None:
    home = fake_cuda(tmp_path)
    assert buildtools.nvcc_version(home) == "13.0"
    assert buildtools.nvcc_archs(home) == ("7.5", "8.0", "9.0", "10.0", "12.0")
    assert buildtools.nvcc_version(None) is None and buildtools.nvcc_archs(tmp_path / "none") == ()


def test_torch_cuda_is_read_from_version_py(tmp_path: Path) -> None:
    fake_torch(tmp_path / "cpu", "None")
    fake_torch(tmp_path / "cu130", "'13.0'")
    assert buildtools.torch_cuda(tmp_path / "cpu") == (None, True)
    assert buildtools.torch_cuda(tmp_path / "cu130") == ("13.0", True)
    assert buildtools.torch_cuda(tmp_path / "no-torch") == (None, False)


def test_archs_nvcc_lacks() -> None:
    known = ("7.5", "8.0", "9.0", "10.0", "12.0")
    assert buildtools.unsupported_archs("7.0;8.0+PTX;9.0a;12.0", known) == ("7.0",)
    assert buildtools.unsupported_archs("", known) == ()


def test_findings_for_a_cuda_build() -> None:
    cpu_torch = buildtools.BuildTools("c++ 12.2.0", "13.0", ("7.5", "12.0"), None, True)
    found = buildtools.findings(cpu_torch, device="cuda", arch_list="7.0;12.0")
    assert found == (
        "the cell's torch has no CUDA (torch.version.cuda is None): a CUDA build needs a CUDA torch",
        "nvcc 13.0 cannot compile for 7.0 (it knows 7.5, 12.0)",
    )
    no_toolkit = buildtools.BuildTools("c++ 12.2.0", None, (), "13.0", True)
    assert buildtools.findings(no_toolkit, device="cuda", arch_list="12.0") == (
        "no CUDA toolkit: CUDA_HOME is unset and no nvcc was found (PATH, /usr/local/cuda)",
    )
    assert buildtools.findings(cpu_torch, device="cpu", arch_list="") == ()  # a CPU build needs none of it


def test_the_cxx_compiler_is_the_one_cmake_picks(tmp_path: Path) -> None:
    cxx = tmp_path / "g++-13"
    cxx.write_text("#!/bin/sh\necho 13.2.0\n")
    os.chmod(cxx, 0o755)
    assert buildtools.cxx_version({"CXX": str(cxx)}) == f"{cxx} 13.2.0"
    assert buildtools.cxx_version({"CXX": str(tmp_path / "missing")}) is None

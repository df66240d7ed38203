"""The arch audit reads the SASS / PTX archs nvcc put into real compiled files.

The fixtures in tests/resources/fatbin were compiled here by nvcc 13.0 with
make_fixtures.sh; each mirrors a case of vLLM's wheels.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from vllm_matrix.archaudit import elf, fatbin
from vllm_matrix.archaudit import rules as audit
from vllm_matrix.errors import InputError

FIXTURES = Path(__file__).parents[1] / "resources" / "fatbin"

# file -> (SASS, PTX) as cuobjdump lists them (with the family "f" kept, which cuobjdump drops)
EXPECTED = {
    "fa2_like.so": (("sm_80",), ("compute_80",)),
    "fa3_like.so": (("sm_90a",), ()),
    "sm120a_ptx120.so": (("sm_120a",), ("compute_120",)),
    "sm120f.so": (("sm_120f",), ("compute_120f",)),
    "ptx90a.so": ((), ("compute_90a",)),
    "uncompressed.so": (("sm_80",), ("compute_80",)),
    "compress_speed.so": (("sm_80",), ("compute_80",)),
    "multi.so": (("sm_75", "sm_80", "sm_90", "sm_90a", "sm_100f", "sm_120"), ("compute_90",)),
    "object.o": (("sm_90a", "sm_100f"), ()),
    "rdc.o": (("sm_89",), ()),
    "sm120a.cubin": (("sm_120a",), ()),
    "bare.fatbin": (("sm_86",), ("compute_86",)),
}


def archs(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found = fatbin.read_archs(FIXTURES / name)
    return tuple(a.sass() for a in found.sass), tuple(a.ptx() for a in found.ptx)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_the_archs_nvcc_compiled(name: str) -> None:
    assert archs(name) == EXPECTED[name]


@pytest.mark.parametrize(
    ("name", "gpu", "verdict"),
    [
        ("fa2_like.so", "sm_120", audit.PTX_JIT),  # vLLM's FA2 on an RTX 5090
        ("fa2_like.so", "sm_86", audit.NATIVE),
        ("fa3_like.so", "sm_120", audit.NOT_RUNNABLE),  # vLLM's FA3 on an RTX 5090
        ("fa3_like.so", "sm_90", audit.NATIVE),
        ("sm120a_ptx120.so", "sm_120", audit.NATIVE),
        ("sm120a_ptx120.so", "sm_121", audit.PTX_JIT),  # sm_120a SASS is for 12.0 only
        ("sm120f.so", "sm_121", audit.NATIVE),  # family SASS runs on 12.1
        ("sm120f.so", "sm_100", audit.NOT_RUNNABLE),
        ("ptx90a.so", "sm_90", audit.PTX_JIT),
        ("ptx90a.so", "sm_100", audit.NOT_RUNNABLE),  # arch-specific PTX never JITs elsewhere
        ("multi.so", "sm_120", audit.NATIVE),
        ("multi.so", "10.3", audit.NATIVE),  # sm_100f
        ("object.o", "sm_120", audit.NOT_RUNNABLE),
        ("sm120a.cubin", "sm_120", audit.NATIVE),
        ("cpu_only.so", "sm_120", audit.NO_FATBIN),
    ],
)
def test_verdict_per_file(name: str, gpu: str, verdict: str) -> None:
    [result] = fatbin.audit_path(FIXTURES / name, gpu)
    assert result.verdict == verdict, result.reason
    assert result.to_dict()["verdict"] == verdict


def test_compressed_entries_are_read_from_their_headers() -> None:
    def compressed(name: str) -> set[bool]:
        data = (FIXTURES / name).read_bytes()
        section = elf.read(data).section(".nv_fatbin")
        assert section is not None
        return {
            e.compressed for e in fatbin.parse_entries(data, section.offset, section.offset + section.size)
        }

    assert True in compressed("fa2_like.so")  # nvcc 13 compresses by default (flag 0x8000)
    assert True in compressed("compress_speed.so")  # --compress-mode=speed: flag 0x2000
    assert compressed("uncompressed.so") == {False}


def test_a_file_that_is_not_elf_gets_a_clear_answer(tmp_path: Path) -> None:
    text = tmp_path / "README.so"
    text.write_text("not a shared object\n")
    empty = tmp_path / "empty.so"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.so"
    cut.write_bytes((FIXTURES / "fa2_like.so").read_bytes()[:100])
    results = {r.path.name: r for r in fatbin.audit_path(tmp_path, "sm_120")}
    assert {n: r.verdict for n, r in results.items()} == dict.fromkeys(
        ("README.so", "empty.so", "cut.so"), audit.NOT_ELF
    )
    assert "no ELF magic" in results["README.so"].reason
    assert "past the end" in results["cut.so"].reason


def test_elf_without_gpu_code_says_so() -> None:
    [result] = fatbin.audit_path(FIXTURES / "cpu_only.so", "sm_120")
    assert (result.sass, result.ptx, result.verdict) == ((), (), audit.NO_FATBIN)
    assert ".nv_fatbin" in result.reason


def test_a_damaged_fatbin_is_reported_not_crashed_on(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "bare.fatbin").read_bytes())
    data[8:16] = (10**6).to_bytes(8, "little")  # the container claims more bytes than there are
    bad = tmp_path / "bad.fatbin"
    bad.write_bytes(bytes(data))
    [result] = fatbin.audit_path(bad, "sm_120")
    assert result.verdict == audit.NOT_RUNNABLE
    assert "damaged fatbin" in result.reason


def test_a_venv_means_its_vllm_package(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    pkg = venv / "lib" / "python3.11" / "site-packages" / "vllm" / "vllm_flash_attn"
    pkg.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    shutil.copy(FIXTURES / "fa2_like.so", pkg / "_vllm_fa2_C.abi3.so")
    shutil.copy(FIXTURES / "multi.so", pkg.parent / "_C.abi3.so")
    shutil.copy(FIXTURES / "fa3_like.so", venv / "lib" / "python3.11" / "site-packages" / "other.so")
    results = fatbin.audit_path(venv, "sm_120")
    assert [(r.path.name, r.verdict) for r in results] == [
        ("_C.abi3.so", audit.NATIVE),
        ("_vllm_fa2_C.abi3.so", audit.PTX_JIT),
    ]


def test_bad_input_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        fatbin.audit_path(tmp_path / "missing", "sm_120")
    (tmp_path / "pyvenv.cfg").write_text("")
    with pytest.raises(InputError, match="without vllm"):
        fatbin.audit_path(tmp_path, "sm_120")
    with pytest.raises(InputError, match="compute capability"):
        fatbin.audit_path(FIXTURES / "fa2_like.so", "blackwell")


def find_cuobjdump() -> str | None:
    """cuobjdump from PATH, the CUDA toolkit, or the nvidia-cuda-cuobjdump / triton pip packages."""
    found = shutil.which("cuobjdump")
    candidates = [Path("/usr/local/cuda/bin/cuobjdump")]
    for package, sub in (
        ("nvidia", "cu13/bin"),
        ("nvidia", "cuda_cuobjdump/bin"),
        ("triton", "backends/nvidia/bin"),
    ):
        spec = importlib.util.find_spec(package)
        for root in spec.submodule_search_locations or [] if spec else []:
            candidates.append(Path(root) / sub / "cuobjdump")
    return found or next((str(c) for c in candidates if c.is_file()), None)


CUOBJDUMP = find_cuobjdump()


def cuobjdump_archs(tool: str, path: Path, flag: str) -> set[str]:
    out = subprocess.run([tool, flag, str(path)], capture_output=True, text=True, check=False).stdout
    return set(re.findall(r"\.(sm_\d+[af]?)\.(?:cubin|ptx)$", out, flags=re.MULTILINE))


@pytest.mark.skipif(
    CUOBJDUMP is None, reason="cuobjdump not found (CUDA toolkit, pip nvidia-cuda-cuobjdump or triton)"
)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_agrees_with_cuobjdump(name: str) -> None:
    assert CUOBJDUMP is not None
    sass, ptx = archs(name)
    # cuobjdump names a family cubin sm_120f as sm_120, and every PTX as sm_XY
    assert cuobjdump_archs(CUOBJDUMP, FIXTURES / name, "--list-elf") == {s.rstrip("f") for s in sass}
    assert cuobjdump_archs(CUOBJDUMP, FIXTURES / name, "--list-ptx") == {
        p.replace("compute_", "sm_") for p in ptx
    }


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed (no CUDA toolkit here)")
def test_compiles_afresh_with_nvcc(tmp_path: Path) -> None:
    out = tmp_path / "fresh.so"
    gencode = ["-gencode", "arch=compute_120a,code=sm_120a", "-gencode", "arch=compute_90,code=compute_90"]
    cmd = ["nvcc", "-shared", "-Xcompiler", "-fPIC", "-cudart", "none", "-o", str(out)]
    subprocess.run([*cmd, str(FIXTURES / "kernels.cu"), *gencode], check=True, capture_output=True)
    assert archs_of(out) == (("sm_120a",), ("compute_90",))
    verdicts = {gpu: fatbin.audit_path(out, gpu)[0].verdict for gpu in ("sm_120", "sm_121", "sm_80")}
    assert verdicts == {"sm_120": audit.NATIVE, "sm_121": audit.PTX_JIT, "sm_80": audit.NOT_RUNNABLE}


def archs_of(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found = fatbin.read_archs(path)
    return tuple(a.sass() for a in found.sass), tuple(a.ptx() for a in found.ptx)


VLLM_WHEEL = os.environ.get("VLLM_MATRIX_VLLM_WHEEL", "")


@pytest.mark.skipif(
    not VLLM_WHEEL.endswith("vllm-0.26.0-cp38-abi3-manylinux_2_28_x86_64.whl"),
    reason="set VLLM_MATRIX_VLLM_WHEEL to a downloaded vllm-0.26.0 x86_64 wheel (300 MB, not in the repo)",
)
def test_released_vllm_wheel_matches_cuobjdump_ground_truth(tmp_path: Path) -> None:
    """The table of issue 5, read with cuobjdump from the vllm 0.26.0 wheel on PyPI."""
    wanted = {
        "vllm/_C_stable_libtorch.abi3.so": (
            {"sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", "sm_100", "sm_120"},
            {"compute_80", "compute_89", "compute_90"},
            audit.NATIVE,
        ),
        "vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so": ({"sm_80"}, {"compute_80"}, audit.PTX_JIT),
        "vllm/vllm_flash_attn/_vllm_fa3_C.abi3.so": ({"sm_90a"}, set(), audit.NOT_RUNNABLE),
    }
    with zipfile.ZipFile(VLLM_WHEEL) as wheel:
        for name in wanted:
            wheel.extract(name, tmp_path)
    for name, (sass, ptx, verdict) in wanted.items():
        [result] = fatbin.audit_path(tmp_path / name, "sm_120")
        # cuobjdump prints the family cubins sm_100f / sm_120f as sm_100 / sm_120
        assert {s.rstrip("f") for s in result.sass} == sass
        assert set(result.ptx) == ptx
        assert result.verdict == verdict


def test_zero_padding_between_containers_is_skipped_and_garbage_is_not() -> None:
    data = (FIXTURES / "bare.fatbin").read_bytes()
    padded = bytes(4) + data + bytes(12) + data + bytes(3)
    assert [e.arch.sass() for e in fatbin.parse_entries(padded)] == ["sm_86", "sm_86"] * 2
    with pytest.raises(fatbin.BadFatbin, match="no fatbin magic"):
        fatbin.parse_entries(data + b"junk" + data)


def test_a_venv_with_an_editable_vllm_means_its_source_tree(tmp_path: Path) -> None:
    tree = tmp_path / "src" / "vllm checkout"
    (tree / "vllm").mkdir(parents=True)
    shutil.copy(FIXTURES / "fa2_like.so", tree / "vllm" / "_C.abi3.so")
    venv = tmp_path / "venv"
    info = venv / "lib" / "python3.12" / "site-packages" / "vllm-0.11.0.dev0+g1a2b3c4.cu128.dist-info"
    info.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (info / "direct_url.json").write_text(json.dumps({"url": tree.as_uri(), "dir_info": {"editable": True}}))
    assert [(r.path, r.verdict) for r in fatbin.audit_path(venv, "sm_120")] == [
        (tree / "vllm" / "_C.abi3.so", audit.PTX_JIT)
    ]

"""Stage what the lent H200 needs for the GPU proof, here, in call-sized pieces under .device/.

Run here (with network): ``python3 tools/h200/prepare.py``. The H200 has torch 2.11.0+cu130 in
/opt/torch/.venv and no network; a device call carries at most 64 MiB. So what it lacks
travels in pieces over consecutive calls to one warm machine (tools/h200/device.sh puts them
together there):

- ``c1``: the harness's own missing packages, the CPU build's missing build requirements, the
  pins of vLLM's missing dependencies (``vllm-deps.txt``), the vLLM 0.26.0 sdist and oneDNN's
  source (from a ``fetch``ed snapshot of uxlfoundation/oneDNN at the tag vLLM pins, never
  committed), so the long source build starts first; plus the first part of the vLLM wheel;
- ``c2``: the wheels of the vLLM 0.26.0 dependencies the image lacks (``vllm-deps.in``), plus the
  second part;
- ``c3`` and ``c4``: the rest of the vLLM wheel.

The vLLM wheel is the released one from PyPI, pruned for an sm_90 GPU, nothing else changed:
``tools/prune_fatbin.py`` zeroes the fatbin entries an sm_90 GPU never loads (SASS of other
archs) in its CUDA libraries (FA2 keeps only its compute_80 PTX, which the H200 JIT-compiles),
and the C++/CUDA headers, the vllm-rs binary and FA4's CuTe-DSL package (it needs
nvidia-cutlass-dsl, which does not travel) are left out. The result is rewritten as a valid
wheel (stored, RECORD regenerated) and xz-compressed, then split.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import lzma
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / ".device"
CACHE = Path("/tmp/h200-prepare")
sys.path.insert(0, str(ROOT / "tools"))
from prune_fatbin import prune  # noqa: E402

VLLM = "vllm-0.26.0-cp38-abi3-manylinux_2_28_x86_64.whl"
SDIST = "vllm-0.26.0.tar.gz"
PRUNE = (
    "vllm/_C_stable_libtorch.abi3.so",
    "vllm/_moe_C_stable_libtorch.abi3.so",
    "vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so",
)
LEAVE_OUT = re.compile(r"\.(h|cuh|hpp|cu|inl)$|^vllm/vllm-rs$|^vllm/vllm_flash_attn/cute/")
HARNESS = ("cattrs==26.2.1", "junitparser==5.0.3", "platformdirs==4.5.1")
CPU_BUILD = (
    "setuptools-scm==10.3.4",
    "vcs-versioning==2.6.0",
    "setuptools-rust==1.13.0",
    "semantic-version==2.10.0",
)
ONEDNN_MIRROR = Path("/work/.mirror/uxlfoundation+oneDNN/repo")
CALL_MIB = 60.0  # what a call may carry, less the working tree (~2.5 MiB) and some margin
_GLIBC = (17, 24, 27, 28, 31, 34)
PLATFORMS = (*(f"manylinux_2_{n}_x86_64" for n in _GLIBC), "manylinux2014_x86_64", "manylinux1_x86_64")


def download(requirements: list[str], dest: Path) -> None:
    """Wheels for the H200's CPython 3.12 on x86_64, without their dependencies."""
    argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--implementation", "cp", "-d", str(dest)]  # fmt: skip
    for platform in PLATFORMS:
        argv += ["--platform", platform]
    subprocess.run([*argv, *requirements], check=True)


def pins(wheels: Path, requirements: list[str]) -> list[str]:
    """``name==version`` of the downloaded wheel of each requirement (names compared canonically)."""
    found = {}
    for wheel in wheels.glob("*.whl"):
        name, version, _, _ = parse_wheel_filename(wheel.name)
        found[name] = version
    names = [Requirement(requirement).name for requirement in requirements]
    return [f"{name}=={found[canonicalize_name(name)]}" for name in names]


def stage_deps(c1: Path, c2: Path) -> None:
    """The harness's and the CPU build's wheels into c1, vLLM's missing dependencies into c2."""
    download([*HARNESS, *CPU_BUILD], c1 / "wheels")
    wanted = [line.strip() for line in (HERE / "vllm-deps.in").read_text().splitlines()]
    wanted = [line for line in wanted if line and not line.startswith("#")]
    download(wanted, c2 / "wheels")
    # The pins go with c1: the sdist cell, started in c1, reads them when its compile is done.
    (c1 / "vllm-deps.txt").write_text("\n".join(pins(c2 / "wheels", wanted)) + "\n")


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def pruned_wheel(source: Path, dest: Path) -> Path:
    """The released wheel for an sm_90 GPU: pruned fatbins, no headers, vllm-rs or FA4 DSL; RECORD anew."""
    work = CACHE / "unpacked"
    out = dest / VLLM
    record = io.StringIO()
    rows = csv.writer(record, lineterminator="\n")  # quoted as RECORD must be: file names hold commas
    with zipfile.ZipFile(source) as whl, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as new:
        for info in whl.infolist():
            name = info.filename
            if LEAVE_OUT.search(name) or name.endswith(".dist-info/RECORD"):
                continue
            data = whl.read(name)
            if name in PRUNE:
                path = work / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                print(f"{name}: zeroed {prune(path) >> 20} MiB", flush=True)
                data = path.read_bytes()
            new.writestr(info, data, compress_type=zipfile.ZIP_STORED)
            rows.writerow([name, record_hash(data), len(data)])
        record_name = next(n for n in whl.namelist() if n.endswith(".dist-info/RECORD"))
        rows.writerow([record_name, "", ""])
        new.writestr(record_name, record.getvalue())
    return out


def split(blob: Path, sizes: list[float], dirs: list[Path]) -> None:
    """Cut ``blob`` into consecutive parts of at most ``sizes`` MiB, one into each of ``dirs``."""
    data = blob.read_bytes()
    start = 0
    for number, (room, target) in enumerate(zip(sizes, dirs, strict=True)):
        end = min(len(data), start + int(room * 2**20))
        (target / f"vllm-wheel.xz.part{number}").write_bytes(data[start:end])
        start = end
    if start < len(data):
        raise SystemExit(f"{len(data) - start} bytes of the wheel do not fit in the calls")


def stage_sdist(c2: Path) -> None:
    sdist = c2 / "sdist"
    sdist.mkdir(parents=True, exist_ok=True)
    target = CACHE / SDIST
    if not target.is_file():
        html = urllib.request.urlopen("https://pypi.org/simple/vllm/").read().decode()
        url = next(h for h in re.findall(r'href="([^"]+)"', html) if SDIST in h).split("#")[0]
        urllib.request.urlretrieve(url, target)
    shutil.copyfile(target, sdist / SDIST)
    onednn(c2)


def onednn(c2: Path) -> None:
    """oneDNN's source at the revision vLLM 0.26.0 pins for x86 CPUs, when the snapshot has it."""
    pinned = "v3.10"
    git = ["git", "-C", str(ONEDNN_MIRROR)]
    verify = [*git, "rev-parse", "--verify", "-q", pinned + "^{commit}"]
    have = subprocess.run(verify, capture_output=True, text=True, check=False).stdout.strip()
    revision = have or "HEAD"
    print(
        f"oneDNN: vLLM 0.26.0 pins {pinned}; the snapshot has {'it' if have else 'only HEAD'} -> {revision}"
    )
    archive_argv = [
        *git,
        "archive",
        "--format=tar",
        "--prefix=onednn/",
        revision,
        ":(exclude).github",
        ":(exclude)doc",
    ]
    archive = subprocess.run(archive_argv, capture_output=True, check=True).stdout
    (c2 / "onednn.tar.xz").write_bytes(lzma.compress(archive, preset=9))
    (c2 / "onednn-revision.txt").write_text(revision + "\n")


def mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT, ignore_errors=True)
    calls = [OUT / f"c{n}" for n in (1, 2, 3, 4)]
    for call in calls:
        call.mkdir(parents=True)
    stage_deps(calls[0], calls[1])
    stage_sdist(calls[0])
    if not (CACHE / VLLM).is_file():
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        subprocess.run([*pip, "vllm==0.26.0", "-d", str(CACHE)], check=True)
    (CACHE / "pruned").mkdir(exist_ok=True)
    wheel = pruned_wheel(CACHE / VLLM, CACHE / "pruned")
    blob = CACHE / "vllm-wheel.xz"
    with lzma.open(blob, "wb", preset=6) as xz, wheel.open("rb") as raw:
        shutil.copyfileobj(raw, xz, 1 << 24)
    print(f"pruned wheel {wheel.stat().st_size >> 20} MiB, xz {blob.stat().st_size >> 20} MiB")
    split(blob, [CALL_MIB - mib(calls[0]), CALL_MIB - mib(calls[1]), CALL_MIB, CALL_MIB], calls)
    for call in calls:
        print(f"{call.name}: {mib(call):.1f} MiB")
    if max(mib(c) for c in calls) > CALL_MIB:
        raise SystemExit("a call carries more than it may")


if __name__ == "__main__":
    os.umask(0o022)
    main()

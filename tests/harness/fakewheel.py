"""Small real wheels built by the tests: a vLLM-named or torch-named package of a few files.

They stand in for what cannot be had here (vLLM's CUDA wheels, torch nightlies): uv
installs them for real, with their real ``Requires-Dist`` pins, so the install mechanics
(overrides, indexes, torch kept or replaced) are exercised exactly as with the big ones.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    files: Mapping[str, str] | None = None,
    requires: Sequence[str] = (),
    tag: str = "py3-none-any",
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` holding ``files`` (path -> text) and metadata; return it."""
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    members = dict(files or {})
    members[f"{dist}/METADATA"] = metadata
    members[f"{dist}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: vllm-matrix tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    )
    record = "".join(
        f"{path},sha256={_digest(text)},{len(text.encode())}\n" for path, text in members.items()
    )
    members[f"{dist}/RECORD"] = record + f"{dist}/RECORD,,\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, text in members.items():
            whl.writestr(member, text)
    return path


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


def fake_torch(directory: Path, version: str, git_version: str = "0" * 40) -> Path:
    """A torch that imports: ``torch.__version__``, ``torch.version.git_version`` / ``cuda``."""
    files = {
        "torch/__init__.py": f"__version__ = {version!r}\nfrom . import version\n",
        "torch/version.py": f"__version__ = {version!r}\ngit_version = {git_version!r}\ncuda = None\n",
    }
    return build_wheel(directory, "torch", version, files=files)


def fake_vllm(
    directory: Path, version: str, *, pins: Sequence[str], tag: str = "cp38-abi3-manylinux_2_28_x86_64"
) -> Path:
    """A vLLM wheel as vLLM publishes it (stable ABI, manylinux), pinning ``pins`` (``torch==2.14.0``)."""
    files = {"vllm/__init__.py": f"__version__ = {version!r}\n"}
    return build_wheel(directory, "vllm", version, files=files, requires=pins, tag=tag)

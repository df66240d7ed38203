"""The uv ``--override`` file for a prebuilt vLLM: keep the cell's torch, keep PyPI's vision/audio out.

A prebuilt vLLM pins the torch it was built with (``torch==2.14.0``); over a nightly that pin
would replace the cell's torch. uv's overrides replace a requirement wherever it appears, so
``torch==<installed>`` makes every dependency take the torch the cell already has, and the
shipped overrides (``data/overrides.txt``) drop the torchvision/torchaudio/torchcodec builds
that do not load beside it. Whether the wheel then loads is the verify stage's verdict.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from packaging.utils import canonicalize_name

from vllm_matrix import fileio

_SHIPPED = {"torchvision", "torchaudio", "torchcodec"}  # kept out by the shipped file already


def shipped() -> Path:
    """The package's own override file (torchvision, torchaudio, torchcodec kept out)."""
    with resources.as_file(resources.files("vllm_matrix") / "data" / "overrides.txt") as path:
        return Path(path)


def keeping_torch(target: Path, torch_version: str) -> Path:
    """Write ``target``: the shipped overrides plus ``torch==<torch_version>``; return it."""
    text = shipped().read_text(encoding="utf-8").rstrip("\n")
    fileio.write_atomic(
        target, f"{text}\n# the cell's own torch, whatever the wheel pins\ntorch=={torch_version}\n"
    )
    return target


def without_torch(target: Path, provided: Iterable[str] = ()) -> Path:
    """Write ``target``: the shipped overrides, and requirements never true for torch and ``provided``.

    For a cell on an existing torch (a container's, a cluster's): its venv sees that
    environment's packages through a ``.pth`` file, which uv does not count as installed, and
    there may be no index at all. So nothing that environment provides is resolved again,
    as pip treats a venv's system site packages: torch, and every distribution in
    ``provided``, is taken as it is there (whether vLLM then imports is verify's verdict).
    """
    text = shipped().read_text(encoding="utf-8").rstrip("\n")
    names = sorted({"torch", *(canonicalize_name(n) for n in provided)} - _SHIPPED)
    lines = "".join(f'{name}; sys_platform == "never"\n' for name in names)
    fileio.write_atomic(
        target, f"{text}\n# the existing environment provides these; never installed\n{lines}"
    )
    return target


def installed_names(site: Iterable[str]) -> list[str]:
    """The distributions installed in these site-packages directories."""
    found = importlib.metadata.distributions(path=list(site))
    return sorted({canonicalize_name(d.metadata["Name"]) for d in found if d.metadata["Name"]})

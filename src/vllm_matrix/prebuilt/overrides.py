"""The uv ``--override`` file for a prebuilt vLLM: keep the cell's torch, keep PyPI's vision/audio out.

A prebuilt vLLM pins the torch it was built with (``torch==2.14.0``); over a nightly that pin
would replace the cell's torch. uv's overrides replace a requirement wherever it appears, so
``torch==<installed>`` makes every dependency take the torch the cell already has, and the
shipped overrides (``data/overrides.txt``) drop the torchvision/torchaudio/torchcodec builds
that do not load beside it. Whether the wheel then loads is the verify stage's verdict.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from vllm_matrix import fileio


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


def without_torch(target: Path) -> Path:
    """Write ``target``: the shipped overrides plus a torch requirement that is never true.

    For a cell on an existing torch (a container's, a cluster's): its venv sees that torch
    through a ``.pth`` file, which uv does not count as installed, and there may be no index
    at all; so no install may resolve torch, whatever a package requires.
    """
    text = shipped().read_text(encoding="utf-8").rstrip("\n")
    keep = '# the existing torch the venv sees; never installed\ntorch; sys_platform == "never"\n'
    fileio.write_atomic(target, f"{text}\n{keep}")
    return target

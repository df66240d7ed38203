"""A fixture of vLLM's per-commit wheel index, in the layout wheels.vllm.ai serves.

vLLM's CI (``.buildkite/scripts/generate-nightly-index.py``) uploads a commit's wheels to
``/<commit>/`` and writes, for each variant, ``/<commit>/<variant>/vllm/index.html`` and
``metadata.json`` whose ``path`` entries are relative to that page (``../../<wheel>``, ``+``
written ``%2B``); the same pages for main's latest commit go under ``/nightly/`` and point
back at ``/<commit>/``. A top-level page per directory lists its sub-directories.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from vllm_matrix.nightly.pages import parse_wheel_name


def write_commit_index(
    root: Path, commit: str, variants: Mapping[str, Sequence[Path]], *, nightly: bool
) -> None:
    """Lay out ``variants`` (variant -> wheel files) as commit ``commit``'s wheels under ``root``."""
    wheel_dir = root / commit
    wheel_dir.mkdir(parents=True, exist_ok=True)
    for wheels in variants.values():
        for wheel in wheels:
            shutil.copyfile(wheel, wheel_dir / wheel.name)
    for base in [commit, *(["nightly"] if nightly else [])]:
        for variant, wheels in variants.items():
            package = root / base / variant / "vllm"
            up = "../../" if base == commit else f"../../../{commit}/"
            _package_page(package, [w.name for w in wheels], up, variant)
            _project_list(root / base / variant, ["vllm"])
        _project_list(root / base, ["vllm", *variants])


def _package_page(directory: Path, names: Sequence[str], up: str, variant: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    links, metadata = [], []
    for name in sorted(names):
        path = quote(f"{up}{name}", safe=":%/")
        links.append(f'    <a href="{path}">{name}</a><br/>')
        wheel = parse_wheel_name(name)
        assert wheel is not None, name
        metadata.append({"package_name": "vllm", "version": wheel.version, "build_tag": None,
                         "python_tag": wheel.python_tag, "abi_tag": wheel.abi_tag,
                         "platform_tag": wheel.platform_tag, "variant": variant, "filename": name,
                         "path": path})  # fmt: skip
    (directory / "index.html").write_text(_page(links))
    (directory / "metadata.json").write_text(json.dumps(metadata, indent=2))


def _project_list(directory: Path, names: Sequence[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_text(_page([f'    <a href="{n}/">{n}/</a><br/>' for n in sorted(names)]))


def _page(items: Sequence[str]) -> str:
    head = '<!DOCTYPE html>\n<html>\n  <meta name="pypi:repository-version" content="1.0">\n  <body>\n'
    return head + "\n".join(items) + "\n  </body>\n</html>\n"

"""Where the compiled extensions to audit are: a file, a directory, or a venv's vllm package.

A venv (a directory with ``pyvenv.cfg``) means its ``site-packages/vllm``; when
vLLM was installed editable (``pip/uv install -e``, as people building by hand
often do; the runner itself installs regular wheels), there is no such
directory and PEP 610's ``direct_url.json`` in the ``vllm-*.dist-info`` names
the source tree whose ``vllm/`` holds the .so files.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from vllm_matrix.errors import InputError


def extension_files(path: Path, suffixes: tuple[str, ...] = (".so",)) -> list[Path]:
    """The files ending in ``suffixes`` at or under ``path``, sorted; a venv means its vllm package."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_file():
        return [path]
    return sorted(p for p in search_root(path).rglob("*") if p.suffix in suffixes and p.is_file())


def search_root(path: Path) -> Path:
    """Where to look for compiled files: a venv's vllm package, else ``path`` itself."""
    return vllm_package(path) if (path / "pyvenv.cfg").is_file() else path


def vllm_package(venv: Path) -> Path:
    """The vllm package of a venv: ``site-packages/vllm``, or the source tree of an editable install.

    An editable install (``pip/uv install -e``, a hand-made build) leaves no
    ``site-packages/vllm``; its ``vllm-*.dist-info/direct_url.json`` names the tree.
    """
    for site in sorted(venv.glob("lib*/python*/site-packages")) + sorted(venv.glob("Lib/site-packages")):
        if (site / "vllm").is_dir():
            return site / "vllm"
        for info in sorted(site.glob("vllm-*.dist-info/direct_url.json")):
            tree = _editable_tree(info)
            if tree is not None and (tree / "vllm").is_dir():
                return tree / "vllm"
    raise InputError(f"{venv}: a venv without vllm installed (no site-packages/vllm, no editable vllm)")


def _editable_tree(direct_url: Path) -> Path | None:
    """The source directory of an editable install, from PEP 610's direct_url.json."""
    try:
        data = json.loads(direct_url.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("url", "") if isinstance(data, dict) else ""
    if not url.startswith("file://") or not data.get("dir_info", {}).get("editable"):
        return None
    return Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))

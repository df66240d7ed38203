"""Finding the compiled files to audit: a file, a directory, a venv, an editable install."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_matrix.archaudit import fatbin, installed
from vllm_matrix.errors import InputError

FIXTURES = Path(__file__).parents[1] / "resources" / "fatbin"


def test_a_directory_is_walked_for_compiled_files() -> None:
    names = [p.name for p in installed.extension_files(FIXTURES, fatbin.SUFFIXES)]
    assert names == sorted(names) and "multi.so" in names and "rdc.o" in names and "bare.fatbin" in names
    assert not [n for n in names if n.endswith((".cu", ".c", ".sh"))]
    assert [p.name for p in installed.extension_files(FIXTURES)] == [n for n in names if n.endswith(".so")]


def make_venv(root: Path, site_entries: dict[str, str]) -> Path:
    site = root / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for name, text in site_entries.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    return site


def test_vllm_package_of_a_regular_and_an_editable_install(tmp_path: Path) -> None:
    site = make_venv(tmp_path / "regular", {"vllm/__init__.py": ""})
    assert installed.vllm_package(tmp_path / "regular") == site / "vllm"
    tree = tmp_path / "checkout with space"
    (tree / "vllm").mkdir(parents=True)
    url = json.dumps({"url": tree.as_uri(), "dir_info": {"editable": True}})
    make_venv(tmp_path / "editable", {"vllm-0.11.1.dist-info/direct_url.json": url})
    assert installed.vllm_package(tmp_path / "editable") == tree / "vllm"


def test_a_venv_without_vllm_is_an_input_error(tmp_path: Path) -> None:
    not_editable = json.dumps({"url": "https://files.example/vllm.whl", "archive_info": {}})
    make_venv(tmp_path, {"vllm-0.11.1.dist-info/direct_url.json": not_editable})
    with pytest.raises(InputError, match="a venv without vllm installed"):
        installed.vllm_package(tmp_path)

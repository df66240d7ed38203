"""sdists for the tests: small ones made here, and real vLLM sdists from PyPI, downloaded once.

``make_sdist`` writes a ``.tar.gz`` in the sdist layout (one top-level
``<name>-<version>/`` directory with a ``PKG-INFO``) holding the files given;
``pypi_page`` writes a PEP 503 page listing sdists with their ``#sha256=``
fragments, as PyPI does.

``real_sdist("0.32.0")`` is the real vLLM sdist, fetched through
``vllm_matrix.sdist`` from ``$VLLM_MATRIX_INDEX_PYPI`` (else PyPI) into the
persistent test cache (``$VLLM_MATRIX_TEST_CACHE``) the first time, then
reused. Only an index that cannot be reached is a skip, and the reason says
which index and why: when PyPI answers, the tests that need it run.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from torchnightly import cache_root

from vllm_matrix import sdist
from vllm_matrix.nightly.client import IndexClient

PYPI = "https://pypi.org/simple"


def make_sdist(directory: Path, files: dict[str, str], *, name: str = "vllm", version: str = "0.1.0",
               pkg_info: bool = True) -> Path:  # fmt: skip
    """``directory/<name>-<version>.tar.gz`` holding ``files`` under ``<name>-<version>/``."""
    top = f"{name}-{version}"
    members = dict(files)
    if pkg_info:
        members["PKG-INFO"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for member, text in sorted(members.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{member}")
            info.size, info.mtime, info.mode = len(data), 1_795_000_000, 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pypi_page(directory: Path, files: list[Path], *, base_url: str, yanked: tuple[str, ...] = (),
              hashes: bool = True) -> Path:  # fmt: skip
    """``directory/index.html``: one anchor per file, ``#sha256=`` fragments, ``data-yanked`` where asked."""
    anchors = []
    for path in files:
        fragment = f"#sha256={sha256(path)}" if hashes else ""
        flag = ' data-yanked=""' if path.name in yanked else ""
        anchors.append(f'<a href="{base_url}/{path.name}{fragment}"{flag}>{path.name}</a><br/>')
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "index.html"
    page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>\n")
    return page


def pypi_index() -> str:
    """The PyPI index the tests use: ``$VLLM_MATRIX_INDEX_PYPI`` (a mirror) or PyPI itself."""
    return os.environ.get("VLLM_MATRIX_INDEX_PYPI") or PYPI


def real_sdist(version: str) -> Path:
    """The real ``vllm-<version>.tar.gz``, downloaded once into the test cache (skip only if unreachable)."""
    cache = cache_root() / "sdists"
    index = pypi_index()
    log = cache / "download.log"
    cache.mkdir(parents=True, exist_ok=True)
    try:
        found = sdist.find(f"vllm=={version}", index, IndexClient(cache_dir=cache / "pages", ttl_s=86400.0))
        path, _ = sdist.fetch(found, cache, timeout_s=900, log=log)
    except sdist.SdistUnavailable as exc:
        pytest.skip(f"the PyPI index {index} cannot be reached here: {exc.message}")
    return path


# A small vLLM-shaped CMake project: setup.py's cmake_build_ext.configure(ext) runs cmake the way
# vLLM's does (-DVLLM_TARGET_DEVICE, -DVLLM_PYTHON_EXECUTABLE, -DFETCHCONTENT_BASE_DIR from the
# environment), and the CMakeLists fetches "oneDNN" (from ``url``, or FETCHCONTENT_SOURCE_DIR_ONEDNN)
# and stops, as vLLM's cpu_extension.cmake does, when the C++ compiler is older than ``min_gcc``.
CMAKE_SETUP_PY = """\
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
DEVICE = os.environ.get("VLLM_TARGET_DEVICE", "cuda")
if DEVICE == "cuda" and os.environ.get("FAKE_TORCH_CUDA") is None:
    raise RuntimeError("Unknown runtime environment")  # what vLLM's setup.py says for a CPU torch


class CMakeExtension(Extension):
    def __init__(self, name, cmake_lists_dir="."):
        super().__init__(name, sources=[])
        self.cmake_lists_dir = os.path.abspath(cmake_lists_dir)


class cmake_build_ext(build_ext):
    did_config = {}

    def configure(self, ext):
        if ext.cmake_lists_dir in cmake_build_ext.did_config:
            return
        cmake_build_ext.did_config[ext.cmake_lists_dir] = True
        base = os.environ.get("FETCHCONTENT_BASE_DIR", str(ROOT / ".deps"))
        tool = ["-G", "Ninja"] if shutil.which("ninja") else []
        args = [f"-DVLLM_TARGET_DEVICE={DEVICE}", f"-DVLLM_PYTHON_EXECUTABLE={sys.executable}",
                f"-DFETCHCONTENT_BASE_DIR={base}"]
        subprocess.check_call(["cmake", ext.cmake_lists_dir, *tool, *args], cwd=self.build_temp)

    def build_extensions(self):
        os.makedirs(self.build_temp, exist_ok=True)
        for ext in self.extensions:
            self.configure(ext)
        subprocess.check_call(["cmake", "--build", "."], cwd=self.build_temp)


setup(name="vllm", version="0.1.0", ext_modules=[CMakeExtension("vllm._C")],
      cmdclass={"build_ext": cmake_build_ext})
"""
CMAKE_LISTS = """\
cmake_minimum_required(VERSION 3.20)
project(fakevllm LANGUAGES CXX)
include(FetchContent)
set(ONEDNN_TAG "v3.13")
if (DEFINED ENV{FETCHCONTENT_SOURCE_DIR_ONEDNN})
  FetchContent_Declare(oneDNN SOURCE_DIR $ENV{FETCHCONTENT_SOURCE_DIR_ONEDNN})
else()
  FetchContent_Declare(oneDNN GIT_REPOSITORY @URL@ GIT_TAG ${ONEDNN_TAG})
endif()
FetchContent_MakeAvailable(oneDNN)
message(STATUS "oneDNN is available at ${onednn_SOURCE_DIR}")
if (CMAKE_CXX_COMPILER_VERSION VERSION_LESS @MIN_GCC@)
  message(FATAL_ERROR "X86 backend requires gcc/g++ >= @MIN_GCC@")
endif()
add_library(_C MODULE csrc/ops.cpp)
"""


def cmake_vllm_files(*, url: str = "https://127.0.0.1:9/oneDNN.git", min_gcc: str = "1.0") -> dict[str, str]:
    """The files of the small vLLM-shaped CMake project (``url``: where oneDNN would be fetched)."""
    return {
        "setup.py": CMAKE_SETUP_PY,
        "CMakeLists.txt": CMAKE_LISTS.replace("@URL@", url).replace("@MIN_GCC@", min_gcc),
        "csrc/ops.cpp": "int vllm_fake_op() { return 1; }\n",
    }

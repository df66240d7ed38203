"""A small git repository that looks like vLLM to the runner, made with real git.

It has what the source path touches: ``use_existing_torch.py`` (the old form
that drops every line mentioning torch, and the newer form taking
``--prefix``), ``requirements/build.txt`` and ``requirements/common.txt`` with
torch pins, and a ``setup.py`` that builds a real torch C++ extension
(``vllm._C``, a ``.abi3.so`` like vLLM's) with ``--no-build-isolation``. The
setup.py records the build environment it saw (TORCH_CUDA_ARCH_LIST,
MAX_JOBS, NVCC_THREADS, VLLM_TARGET_DEVICE, CUDA_HOME, FETCHCONTENT_BASE_DIR,
and torch's version) into the installed package as ``vllm/_build_info.json``.

Refs (see ``REFS``): ``main`` (newer script, good build), ``v0.1.0`` (old
script, good build), and failing variants branched from main, each a tag:
``compile-error`` (the C++ does not compile), ``undefined-symbol`` (the .so
links but ``import vllm._C`` fails with ``undefined symbol: _ZN4vllm...``),
``torch-override`` (setup.py requires another torch nightly, which replaces
the cell's torch when the build installs it).

In pytest: ``from fakevllm import fake_vllm_factory`` or call ``make_fake_vllm``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

VERSION = "0.1.0"
REFS = ("main", "v0.1.0", "compile-error", "undefined-symbol", "torch-override")
UNDEFINED_SYMBOL = "_ZN4vllm14missing_kernelEi"
SEEN_VARIABLES = (
    "TORCH_CUDA_ARCH_LIST",
    "MAX_JOBS",
    "NVCC_THREADS",
    "VLLM_TARGET_DEVICE",
    "CUDA_HOME",
    "FETCHCONTENT_BASE_DIR",
)

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "fake vllm",
    "GIT_AUTHOR_EMAIL": "fake@vllm.invalid",
    "GIT_COMMITTER_NAME": "fake vllm",
    "GIT_COMMITTER_EMAIL": "fake@vllm.invalid",
    "GIT_AUTHOR_DATE": "2026-11-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-11-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}

LEGACY_USE_EXISTING_TORCH = '''\
"""Drop every requirement line that mentions torch (vLLM's script before --prefix)."""
import glob

for file in (*glob.glob("requirements/*.txt"), "pyproject.toml"):
    try:
        with open(file) as f:
            lines = f.readlines()
    except FileNotFoundError:
        continue
    if "torch" in "".join(lines).lower():
        print(">>> cleaning", file)
        with open(file, "w") as f:
            for line in lines:
                if "torch" not in line.lower():
                    f.write(line)
print("use_existing_torch: legacy mode")
'''

PREFIX_USE_EXISTING_TORCH = '''\
"""Drop torch pins from the requirements; --prefix drops only lines starting torch=, ..."""
import argparse
import glob

parser = argparse.ArgumentParser()
parser.add_argument("--prefix", action="store_true", help="only drop torch=, torchvision=, torchaudio= lines")
args = parser.parse_args()
PREFIXES = ("torch=", "torchvision=", "torchaudio=")


def drop(line):
    compact = line.replace(" ", "").lower()
    return compact.startswith(PREFIXES) if args.prefix else "torch" in line.lower()


for file in (*glob.glob("requirements/**/*.txt", recursive=True), "pyproject.toml"):
    try:
        with open(file) as f:
            lines = f.readlines()
    except FileNotFoundError:
        continue
    kept = [line for line in lines if not drop(line)]
    if kept != lines:
        print(">>> cleaning", file)
        with open(file, "w") as f:
            f.writelines(kept)
print("use_existing_torch: prefix mode" if args.prefix else "use_existing_torch: legacy mode")
'''

SETUP_PY = """\
import json
import os
from pathlib import Path

import torch
from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CppExtension

SEEN = {seen!r}
EXTRA_REQUIRES = {extra!r}


def requirements():
    text = Path("requirements/common.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


info = {{name: os.environ.get(name) for name in SEEN}}
info["torch"] = torch.__version__
Path("vllm/_build_info.json").write_text(json.dumps(info, indent=1))

setup(
    name="vllm",
    version={version!r},
    packages=["vllm"],
    package_data={{"vllm": ["_build_info.json"]}},
    install_requires=requirements() + EXTRA_REQUIRES,
    ext_modules=[
        CppExtension(
            "vllm._C",
            ["csrc/ops.cpp"],
            py_limited_api=True,
            define_macros=[("Py_LIMITED_API", "0x03090000")],
        )
    ],
    cmdclass={{"build_ext": BuildExtension}},
    options={{"bdist_wheel": {{"py_limited_api": "cp39"}}}},
)
"""

OPS_CPP = """\
#include <Python.h>
#include <torch/library.h>
#include <ATen/core/Tensor.h>
{declare}
at::Tensor add_one(const at::Tensor& x) {{
{call}  return x.add(1);
}}

TORCH_LIBRARY(_C, m) {{
  m.def("add_one(Tensor x) -> Tensor");
  m.impl("add_one", c10::DispatchKey::CPU, TORCH_FN(add_one));
}}

extern "C" PyObject* PyInit__C(void) {{
  static PyModuleDef def = {{PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr}};
  return PyModule_Create(&def);
}}
"""

INIT_PY = f'''\
"""A fake vLLM for vllm-matrix's tests."""
import torch  # noqa: F401  (vllm._C needs libtorch loaded first, as in vLLM)

__version__ = "{VERSION}"
'''

BUILD_TXT = "setuptools>=61\nwheel\nninja\ntorch==2.13.0\n"
COMMON_TXT = "packaging>=20\ntorch == 2.13.0\n"


@dataclass(frozen=True)
class FakeVllm:
    """The repository and the commit each ref of ``REFS`` names."""

    path: Path
    commits: dict[str, str]
    override_torch: str

    def build_info(self, site_packages: Path) -> dict[str, str | None]:
        """What the installed package's setup.py saw at build time."""
        data: dict[str, str | None] = json.loads((site_packages / "vllm" / "_build_info.json").read_text())
        return data


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **_GIT_ENV},
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


def _write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _ops(broken: str = "") -> str:
    if broken == "compile":
        return OPS_CPP.format(declare="", call="  this is not C++;\n")
    if broken == "symbol":
        return OPS_CPP.format(
            declare="namespace vllm { void missing_kernel(int); }\n", call="  vllm::missing_kernel(1);\n"
        )
    return OPS_CPP.format(declare="", call="")


def _setup(extra: list[str] | None = None) -> str:
    return SETUP_PY.format(seen=SEEN_VARIABLES, extra=extra or [], version=VERSION)


def _base_files(script: str) -> dict[str, str]:
    return {
        "use_existing_torch.py": script,
        "requirements/build.txt": BUILD_TXT,
        "requirements/common.txt": COMMON_TXT,
        "setup.py": _setup(),
        "csrc/ops.cpp": _ops(),
        "vllm/__init__.py": INIT_PY,
        ".gitignore": "build/\n*.egg-info/\n*.so\nvllm/_build_info.json\n",
    }


def _variant(repo: Path, tag: str, files: dict[str, str]) -> str:
    _git(repo, "checkout", "-q", "--detach", "main")
    _write(repo, files)
    commit = _commit(repo, f"variant: {tag}")
    _git(repo, "tag", tag)
    return commit


def make_fake_vllm(root: Path, *, override_torch: str = "2.13.0.dev20261102+cpu") -> FakeVllm:
    """Create the repository under ``root`` (``root/vllm``); ``override_torch`` is the torch-override pin."""
    repo = root / "vllm"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    commits = {}
    _write(repo, _base_files(LEGACY_USE_EXISTING_TORCH))
    commits["v0.1.0"] = _commit(repo, "fake vllm 0.1.0: legacy use_existing_torch.py")
    _git(repo, "tag", "v0.1.0")
    _write(repo, {"use_existing_torch.py": PREFIX_USE_EXISTING_TORCH})
    commits["main"] = _commit(repo, "use_existing_torch.py --prefix")
    commits["compile-error"] = _variant(repo, "compile-error", {"csrc/ops.cpp": _ops("compile")})
    commits["undefined-symbol"] = _variant(repo, "undefined-symbol", {"csrc/ops.cpp": _ops("symbol")})
    override = {"setup.py": _setup([f"torch=={override_torch}"])}
    commits["torch-override"] = _variant(repo, "torch-override", override)
    _git(repo, "checkout", "-q", "main")
    return FakeVllm(repo, commits, override_torch)

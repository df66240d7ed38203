"""Configure a vLLM source tree the way its own setup.py does, and compile nothing.

Usage (run by vllm-matrix with the cell venv's python, in the tree root)::

    python configure_vllm.py BUILD_DIR RECORD_JSON

vLLM's setup.py builds its extensions with a ``cmake_build_ext`` command whose
``configure(ext)`` runs ``cmake <tree> -G Ninja -DCMAKE_BUILD_TYPE=...
-DVLLM_TARGET_DEVICE=... -DVLLM_PYTHON_EXECUTABLE=... -DFETCHCONTENT_BASE_DIR=...``
and whose ``build_extensions`` then runs ``cmake --build``. This script runs
setup.py's module code with ``setuptools.setup`` captured (so every check
setup.py makes at import, such as CUDA_HOME and the nvcc version, runs for
real), makes that command, and calls ``configure`` for each CMake extension:
the ref's own CMake command line, in BUILD_DIR, and never ``cmake --build``.

RECORD_JSON gets ``{"cmake": [argv, ...], "extensions": [name, ...]}``.
Exit codes: 0 configured (or nothing to configure for this target); 1 setup.py
or CMake stopped (their output is above; the driver's own lines use no
error words, so the classifier's evidence stays theirs); 2 the ref's setup.py has no CMake
configure step to call. Standard library and setuptools only: the harness is
not installed in the cell venv.
"""

from __future__ import annotations

import importlib
import json
import shlex
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

NO_CONFIGURE = 2


def main(argv: list[str]) -> int:
    build_dir, record_path = Path(argv[0]).resolve(), Path(argv[1])
    record: dict[str, Any] = {"cmake": [], "extensions": []}
    try:
        return configure(Path.cwd(), build_dir, record)
    finally:
        record_path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def configure(tree: Path, build_dir: Path, record: dict[str, Any]) -> int:
    """Capture setup()'s arguments, then call the build_ext command's configure for each extension."""
    try:
        captured = run_setup(tree)
    except SystemExit as exc:
        print(f"[configure] setup.py exited ({exc.code}) before setup() was called", flush=True)
        return 1
    except BaseException:
        traceback.print_exc()
        # no error word here: the classifier's evidence must stay setup.py's own last line above
        print("[configure] setup.py stopped before setup() was called (see above)", flush=True)
        return 1
    extensions = [e for e in captured.get("ext_modules") or [] if hasattr(e, "cmake_lists_dir")]
    record["extensions"] = [e.name for e in extensions]
    if not extensions:
        print("[configure] setup.py declares no CMake extensions for this target: nothing to configure")
        return 0
    command = (captured.get("cmdclass") or {}).get("build_ext")
    if command is None or not callable(getattr(command, "configure", None)):
        print(
            "[configure] this setup.py has no build_ext.configure(ext): it cannot configure without building"
        )
        return NO_CONFIGURE
    return run_configure(command, captured, extensions, build_dir, record)


def run_setup(tree: Path) -> dict[str, Any]:
    """Execute setup.py as ``python setup.py build_ext`` would, with setuptools.setup() captured."""
    setuptools: Any = importlib.import_module("setuptools")
    captured: dict[str, Any] = {}
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [str(tree), *(p for p in sys.path if p != here)]
    sys.argv = [str(tree / "setup.py"), "build_ext"]
    code = compile((tree / "setup.py").read_text(encoding="utf-8"), str(tree / "setup.py"), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(tree / "setup.py")})
    return captured


def run_configure(command: Any, captured: dict[str, Any], extensions: list[Any], build_dir: Path,
                  record: dict[str, Any]) -> int:  # fmt: skip
    """``command(dist).configure(ext)`` per extension, with cmake calls recorded and builds refused."""
    distribution = importlib.import_module("setuptools").Distribution
    dist = distribution({"name": str(captured.get("name") or "vllm"), "ext_modules": extensions,
                          "cmdclass": captured.get("cmdclass") or {}})  # fmt: skip
    cmd = command(dist)
    cmd.ensure_finalized()
    build_dir.mkdir(parents=True, exist_ok=True)
    cmd.build_temp = str(build_dir)
    real = subprocess.check_call

    def check_call(args: Any, *rest: Any, **kwargs: Any) -> int:
        argv = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
        if argv and Path(argv[0]).name == "cmake":
            if "--build" in argv or "--install" in argv:
                raise RuntimeError(f"configure-only: refusing {shlex.join(argv)}")
            record["cmake"].append(argv)
            print(f"[configure] $ {shlex.join(argv)}", flush=True)
        return int(real(args, *rest, **kwargs))

    subprocess.check_call = check_call
    try:
        for ext in extensions:
            cmd.configure(ext)
    except subprocess.CalledProcessError as exc:
        print(f"[configure] CMake stopped with exit status {exc.returncode} (see above)", flush=True)
        return 1
    print(f"[configure] configured in {build_dir}; nothing was compiled", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

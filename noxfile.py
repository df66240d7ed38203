"""Nox sessions for vllm-matrix.

One ``cell(<id>)`` session per matrix cell (tags for ``nox -t``), plus:
``matrix`` (every cell, then the report), ``report``, ``bisect``, ``plan``,
``tests`` and ``lint``. A bare ``nox`` only plans: it never starts the sweep.

The matrix is ``$VLLM_MATRIX_FILE`` or ./matrix.toml. It is loaded when this file
is imported, so a broken matrix file is one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from vllm_matrix import pipconfig  # noqa: E402
from vllm_matrix.errors import MatrixError  # noqa: E402
from vllm_matrix.matrix import config as matrix_config  # noqa: E402  (stdlib-only modules)
from vllm_matrix.matrix import expand as matrix_expand  # noqa: E402
from vllm_matrix.matrix import names as matrix_names  # noqa: E402

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["plan"]
nox.options.reuse_venv = "yes"

MATRIX_FILE = matrix_config.matrix_path().resolve()
# Every cell session of one `nox` invocation writes into one run (reports/<run>/).
RUN_NAME = os.environ.get("VLLM_MATRIX_RUN") or matrix_names.new_run_name()


def _load_cells() -> list[matrix_expand.Cell]:
    try:
        return matrix_expand.expand(matrix_config.load(MATRIX_FILE))
    except MatrixError as exc:
        print(f"noxfile: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


CELLS = _load_cells()


def _run_env(session: nox.Session, *, run: bool = False) -> dict[str, str]:
    """Environment for the harness: the matrix file, and where release torch wheels come from.

    A machine whose pip is configured with a find-links directory (an offline or
    mirrored machine) uses it for release torch wheels unless VLLM_MATRIX_INDEX_RELEASE
    says otherwise: uv, unlike pip, does not read pip's configuration.
    """
    env = {"VLLM_MATRIX_FILE": str(MATRIX_FILE)}
    if run:
        env["VLLM_MATRIX_RUN"] = RUN_NAME
    override = pipconfig.release_override()
    for name, where in override.items():
        session.log(f"release torch wheels from pip's find-links {where} (set {name} to change)")
    return env | override


def _install_harness(session: nox.Session, extras: str = "") -> None:
    session.install("-e", f".{extras}")


@nox.session(python=False, name="plan")
def plan(session: nox.Session) -> None:
    """Print the cells of the matrix (no network, nothing runs)."""
    session.run(
        sys.executable,
        "-m",
        "vllm_matrix",
        "plan",
        *session.posargs,
        env={"PYTHONPATH": str(ROOT / "src"), **_run_env(session)},
    )


@nox.session
@nox.parametrize(
    "cell_id", [nox.param(c.id, id=c.id, tags=list(c.tags)) for c in CELLS if c.not_applicable is None]
)
def cell(session: nox.Session, cell_id: str) -> None:
    """Run one cell end to end: resolve, venv, torch, source, prepare, build, verify, suites."""
    _install_harness(session)
    session.run("vllm-matrix", "run", cell_id, *session.posargs, env=_run_env(session, run=True))


@nox.session
def matrix(session: nox.Session) -> None:
    """Run every cell that applies to this machine, then build the report (also when cells failed)."""
    _install_harness(session)
    env = _run_env(session, run=True)
    try:
        session.run("vllm-matrix", "run", "--all", *session.posargs, env=env)
    except CommandFailed:
        _report(session, env, RUN_NAME)
        raise
    _report(session, env, RUN_NAME)


def _report(session: nox.Session, env: dict[str, str], run_name: str) -> None:
    """The run's report into reports/<run>/site/; 4 (built, with unreadable inputs) is not a failure."""
    reports = Path(os.environ.get("VLLM_MATRIX_REPORTS") or "reports")
    session.run("vllm-matrix", "report", str(reports / run_name), env=env, success_codes=[0, 4])


@nox.session
def report(session: nox.Session) -> None:
    """Build the report of the latest run (or of the runs / JUnit files given after --)."""
    _install_harness(session)
    session.run("vllm-matrix", "report", *session.posargs, env=_run_env(session), success_codes=[0, 4])


@nox.session
def bisect(session: nox.Session) -> None:
    """Bisect a cell: nox -s bisect -- <cell-id> --good G --bad B [--over vllm|LIST] [--bad-on RULE]."""
    _install_harness(session)
    session.run("vllm-matrix", "bisect", *session.posargs, env=_run_env(session))


CHROMIUM = "/usr/bin/chromium"


def _ensure_chromium(session: nox.Session) -> None:
    """Debian's chromium for the report's browser test: installed with apt-get when missing and root."""
    if Path(CHROMIUM).is_file() or shutil.which("chromium"):
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        session.warn(f"{CHROMIUM} is missing and apt-get cannot install it here (needs root and apt-get): "
                     "the report's browser test will be skipped")  # fmt: skip
        return
    session.log(f"installing Debian's chromium for the report's browser test ({CHROMIUM} is missing)")
    apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-q", external=True, env=apt_env)
    session.run(
        "apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium", external=True, env=apt_env
    )


@nox.session
def tests(session: nox.Session) -> None:
    """The tool's own tests, including the real CPU reference cell and the report in a real browser."""
    _install_harness(session, "[test]")
    _ensure_chromium(session)
    session.run("pytest", *(session.posargs or ["-n", "2", "--dist", "loadgroup"]), env=_run_env(session))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy (strict) over the harness."""
    _install_harness(session, "[lint,test]")
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py")
    session.run("mypy", "src")

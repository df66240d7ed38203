"""A skip in CI must mean something: pytest hooks that count skips, check their reasons, and report.

When the environment variable ``CI`` is set (GitHub Actions, Buildkite and most CI systems set
it), a skip whose reason matches no line of the allowlist (``tests/ci-skip-allowlist.txt``, one
Python regex per line, searched in the reason; ``$VLLM_MATRIX_SKIP_ALLOWLIST`` names another
file) fails the run: exit code 1, and the terminal summary names each such skip. Outside CI,
skips are only listed. Either way, when ``$VLLM_MATRIX_SKIP_REPORT`` names a file, a summary of
the skips and their reasons is written there (``.ci/run`` prints it).

Under pytest-xdist the hooks do their work in the controller, which sees every worker's
reports; xfails are not skips. tests/harness/conftest.py imports these hooks.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

ALLOWLIST = Path(__file__).resolve().parents[1] / "ci-skip-allowlist.txt"
_SKIPS: list[tuple[str, str]] = []  # (node id, reason), in the controller
_KEY = pytest.StashKey[list[str]]()


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason pytest gives for a skipped test or collector."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ").strip()


def allowlist(path: Path | None = None) -> list[re.Pattern[str]]:
    """The allowlist's patterns (blank lines and ``#`` comments ignored)."""
    path = path or Path(os.environ.get("VLLM_MATRIX_SKIP_ALLOWLIST") or ALLOWLIST)
    lines = path.read_text(encoding="utf-8").splitlines()
    return [re.compile(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _record(report: pytest.TestReport | pytest.CollectReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPS.append((report.nodeid, skip_reason(report)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _record(report)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, fail a run that skipped anything the allowlist does not allow; write the summary."""
    if _is_worker(session.config):
        return
    patterns = allowlist()
    refused = [(node, why) for node, why in _SKIPS if not any(p.search(why) for p in patterns)]
    in_ci = bool(os.environ.get("CI"))
    lines = summary(patterns, refused, in_ci)
    session.config.stash[_KEY] = lines
    report = os.environ.get("VLLM_MATRIX_SKIP_REPORT")
    if report:
        Path(report).write_text("\n".join(lines) + "\n", encoding="utf-8")
    if in_ci and refused and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def summary(patterns: list[re.Pattern[str]], refused: list[tuple[str, str]], in_ci: bool) -> list[str]:
    """The skips as lines: the count, each reason with its count, and the ones CI does not allow."""
    reasons = Counter(why for _, why in _SKIPS)
    allowed = len(_SKIPS) - len(refused)
    lines = [f"skips: {len(_SKIPS)} ({allowed} allowed in CI by {ALLOWLIST.name}, {len(refused)} not)"]
    for why, count in reasons.most_common():
        mark = "allowed" if any(p.search(why) for p in patterns) else "NOT ALLOWED in CI"
        lines.append(f"  {count:3}x  {why}  [{mark}]")
    if refused and in_ci:
        lines.append("CI is set: these skips fail the run (a test that should have run did not):")
        lines += [f"  {node}: {why}" for node, why in refused]
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_KEY, [])
    if lines:
        terminalreporter.section("skips and their reasons")
        for line in lines:
            terminalreporter.line(line)

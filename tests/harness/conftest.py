"""Shared fixtures of the harness tests, and the CI skip gate (``skipgate``'s hooks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from interrupts import keyboard_interrupts
from skipgate import (  # noqa: F401  (pytest finds the hooks by name in this module)
    pytest_collectreport,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the test's process, even when it was started with SIGINT
    ignored (``nohup ... &``, as CI runners start jobs)."""
    with keyboard_interrupts():
        yield

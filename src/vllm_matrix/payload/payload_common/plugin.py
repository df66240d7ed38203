"""Pytest hooks and fixtures shared by the payload suites.

Each suite's conftest re-exports these names; the hooks are idempotent, so
both conftests loading them does no harm.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, seed, settings

from payload_common import env as envmod


@functools.cache
def current() -> envmod.PayloadEnv:
    """The run's environment contract, read once."""
    return envmod.load()


def pytest_configure(config: pytest.Config) -> None:
    """Reject a bad environment with one line before anything is collected."""
    try:
        current()
    except envmod.PayloadEnvError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    """Say which cell and contract this run is under, at the top of the log."""
    e = current()
    return (
        f"vllm-matrix payload: cell={e.cell_id} device={e.device} dtype={e.dtype} "
        f"fa={e.fa_version or 'unset'} eager={int(e.enforce_eager)} seed={e.seed} "
        f"max_examples={e.max_examples}"
    )


@pytest.fixture(scope="session")
def payload_env() -> envmod.PayloadEnv:
    """The environment contract, for tests."""
    return current()


@functools.cache
def _versions() -> dict[str, str]:
    import torch

    found = {"torch_version": str(torch.__version__)}
    try:
        import vllm

        found["vllm_version"] = str(getattr(vllm, "__version__", "unknown"))
    except Exception as exc:  # the import error itself is the evidence
        found["vllm_import_error"] = f"{type(exc).__name__}: {exc}"
    return found


@pytest.fixture(autouse=True)
def _record_cell(record_property: Callable[[str, object], None]) -> Iterator[None]:
    """Record the cell, the contract and the versions on every test case."""
    for key, value in {**current().properties(), **_versions()}.items():
        record_property(key, str(value))
    yield


def cases(max_examples: int | None = None) -> Callable[[Any], Any]:
    """Hypothesis settings for kernel tests: bounded, seeded by VLLM_MATRIX_SEED, no database.

    With the seed fixed and the example database off, a failure replays
    exactly from the seed recorded in the JUnit properties.
    """
    e = current()
    configured = settings(
        max_examples=max_examples or e.max_examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )

    def decorate(fn: Any) -> Any:
        return seed(e.seed)(configured(fn))

    return decorate

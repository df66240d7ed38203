"""Comparing a kernel's output with a reference: poison, tolerances, NaN.

Every output buffer is poisoned before the kernel runs (NaN for floats), so
an element the kernel never wrote fails the comparison. NaN never passes:
not in the output, and not in the reference either (that would mean the
test drew bad inputs, which is a test bug worth seeing).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

_TABLE = Path(__file__).with_name("tolerances.toml")


@dataclass(frozen=True)
class Tolerance:
    """An atol/rtol pair and where it comes from."""

    atol: float
    rtol: float
    source: str


@functools.cache
def _table() -> dict[str, Any]:
    with _TABLE.open("rb") as fh:
        return tomllib.load(fh)


def tolerance(family: str | None, dtype: torch.dtype) -> Tolerance:
    """The tolerance for an op family in ``dtype``: ``[family.dtype]``, ``[family]``, or the default."""
    name = str(dtype).removeprefix("torch.")
    table = _table()
    row = table.get(family or "", {})
    for candidate in (row.get(name), row if "atol" in row else None, table["default"].get(name)):
        if candidate and "atol" in candidate:
            return Tolerance(float(candidate["atol"]), float(candidate["rtol"]), str(candidate["source"]))
    raise KeyError(f"no tolerance for {family} in {name} in {_TABLE.name}")


def poison(t: torch.Tensor, value: float = float("nan")) -> torch.Tensor:
    """Fill ``t`` in place with ``value`` (NaN for floats) and return it."""
    if t.is_floating_point():
        t.fill_(value)
    else:
        t.fill_(int(value) if value == value else -1)
    return t


def assert_close(actual: torch.Tensor, expected: torch.Tensor, family: str | None, what: str) -> None:
    """Fail unless ``actual`` matches ``expected`` within the table's tolerance; NaN never passes."""
    __tracebackhide__ = True
    assert not torch.isnan(expected.float()).any(), f"{what}: the reference holds NaN (bad test inputs)"
    nan = torch.isnan(actual.float())
    assert not nan.any(), (
        f"{what}: {int(nan.sum())} of {actual.numel()} output elements are NaN or never written"
    )
    tol = tolerance(family, actual.dtype if actual.is_floating_point() else expected.dtype)
    torch.testing.assert_close(
        actual.float().cpu(),
        expected.float().cpu(),
        atol=tol.atol,
        rtol=tol.rtol,
        equal_nan=False,
        msg=lambda m: f"{what} [{tol.atol}/{tol.rtol} from {tol.source}]: {m}",
    )

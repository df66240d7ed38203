"""Which vLLM ops this platform's build must have, and loading them.

``ops.toml`` is the data: per op, the platforms whose build registers it.
Asking for an op gives its callable, or ends the test the way the table
says: a FAILURE when a platform that must have it lacks it (an arch-subset
or broken build), a SKIP naming the op and platform when it never has it.
"""

from __future__ import annotations

import functools
import importlib
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_TABLE = Path(__file__).with_name("ops.toml")

# The extension modules vLLM builds, newest names first. A module that does
# not exist in this vLLM version is not an error; one that fails to load is.
_EXTENSIONS = {
    "cuda": (
        "vllm._C_stable_libtorch",
        "vllm._C",
        "vllm._moe_C_stable_libtorch",
        "vllm._moe_C",
        "vllm.vllm_flash_attn._vllm_fa2_C",
        "vllm.vllm_flash_attn._vllm_fa3_C",
    ),
}


@functools.cache
def table() -> dict[str, dict[str, Any]]:
    """The op table, keyed by qualified op name (``namespace::op``)."""
    with _TABLE.open("rb") as fh:
        return dict(tomllib.load(fh)["ops"])


@functools.cache
def load_extensions(device: str) -> tuple[str, ...]:
    """Import vLLM's kernel libraries for ``device``; return the import errors seen.

    The errors are the evidence when an op is missing (``undefined symbol``,
    ``no kernel image``), so a failure names the real cause.
    """
    errors: list[str] = []
    if device == "cpu":
        from vllm.platforms import current_platform

        current_platform.import_kernels()
        return ()
    for name in _EXTENSIONS.get(device, ()):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                errors.append(f"{name}: {exc}")
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
    return tuple(errors)


def registered(qualname: str) -> Callable[..., Any] | None:
    """The op's overload packet if torch knows it, else None."""
    import torch

    namespace, _, name = qualname.partition("::")
    try:
        return getattr(getattr(torch.ops, namespace), name)  # type: ignore[no-any-return]
    except (AttributeError, RuntimeError):
        return None


def require(qualname: str, device: str) -> Callable[..., Any]:
    """Return op ``qualname`` or end the test: fail if the build must have it, skip if never."""
    entry = table().get(qualname)
    if entry is None:
        raise KeyError(f"{qualname} is not in {_TABLE.name}: add a row saying which platforms have it")
    if device not in entry["must_have"]:
        pytest.skip(f"{qualname} is never built for {device}: {entry.get('never', 'not in this build')}")
    errors = load_extensions(device)
    op = registered(qualname)
    if op is None:
        evidence = "; ".join(errors) if errors else "no import error was raised"
        pytest.fail(f"{qualname} is not registered, but the {device} build must have it ({evidence})")
    return op

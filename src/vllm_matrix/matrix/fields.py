"""What each cell field accepts: one checker per field, shared by axes,
defaults, include and exclude entries."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from vllm_matrix.matrix.specs import SpecError, check_no_shell, parse_source, parse_torch

_PYTHON = re.compile(r"^3\.\d{1,2}t?$")
_CUDA = re.compile(r"^(cu\d{3}|cpu|rocm\d+(\.\d+)*|xpu)$")
_ARCH_ONE = re.compile(r"^\d+\.\d+[af]?(\+PTX)?$")
_GPU = re.compile(r"^(sm_\d+[af]?|cpu)$")
DTYPES = ("bfloat16", "float16", "float32", "auto")
SUITES = ("kernels", "generation")


def _string(value: Any, expected: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"expected {expected}, got {type(value).__name__} {value!r}")
    return value


def check_python(value: Any) -> str:
    text = _string(value, 'a Python version string such as "3.12"')
    if not _PYTHON.match(text):
        raise SpecError(f'expected a Python version such as "3.12", got {text!r}')
    return text


def check_torch(value: Any) -> str:
    text = _string(value, 'a torch spec string such as "nightly:latest"')
    check_no_shell(text, "torch spec")
    if ".." not in text:
        parse_torch(text)
    return text


def check_cuda(value: Any) -> str:
    text = _string(value, 'a CUDA variant such as "cu128" or "cpu"')
    if not _CUDA.match(text):
        raise SpecError(f'expected a CUDA variant such as "cu128", "cu130" or "cpu", got {text!r}')
    return text


def check_arch(value: Any) -> str:
    text = _string(value, 'a TORCH_CUDA_ARCH_LIST string such as "12.0" or "10.0;12.0"')
    parts = [p for p in re.split(r"[;\s]+", text.strip()) if p]
    for part in parts:
        if not _ARCH_ONE.match(part):
            raise SpecError(
                f'expected TORCH_CUDA_ARCH_LIST entries such as "12.0", "9.0a" or "8.0+PTX", got {part!r}'
            )
    return ";".join(parts)


def check_flash_attn(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"expected a flash-attention version (a number: 2, 3, 4), got {value!r}")
    return value


def check_vllm(value: Any) -> str:
    text = _string(value, 'a vLLM source such as "git:main"')
    parse_source(text)
    return text


def check_gpu(value: Any) -> str:
    text = _string(value, 'a GPU such as "sm_120" or "cpu"')
    if not _GPU.match(text):
        raise SpecError(f'expected a GPU such as "sm_120", "sm_100", "sm_90" or "cpu", got {text!r}')
    return text


def check_dtype(value: Any) -> str:
    text = _string(value, f"one of {', '.join(DTYPES)}")
    if text not in DTYPES:
        raise SpecError(f"expected one of {', '.join(DTYPES)}, got {text!r}")
    return text


def check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"expected true or false, got {value!r}")
    return value


def check_suites(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(f"expected a non-empty list of suites from {list(SUITES)}, got {value!r}")
    for item in value:
        if item not in SUITES:
            raise SpecError(f"expected suites from {list(SUITES)}, got {item!r}")
    return tuple(value)


def check_id(value: Any) -> str:
    text = _string(value, "an id of letters, digits and _")
    if not re.match(r"^[A-Za-z0-9_]+$", text):
        raise SpecError(f"expected an id of letters, digits and _ only, got {text!r}")
    return text


CHECKERS: dict[str, Callable[[Any], Any]] = {
    "python": check_python,
    "torch": check_torch,
    "cuda": check_cuda,
    "arch": check_arch,
    "flash_attn": check_flash_attn,
    "vllm": check_vllm,
    "gpu": check_gpu,
    "dtype": check_dtype,
    "enforce_eager": check_bool,
    "suites": check_suites,
    "experimental": check_bool,
}

# Built-in defaults, used where neither the combination nor [defaults] says.
BUILTIN_DEFAULTS: dict[str, Any] = {
    "python": "3.12",
    "arch": "",
    "flash_attn": None,
    "dtype": "bfloat16",
    "enforce_eager": False,
    "suites": ("kernels", "generation"),
    "experimental": False,
}
REQUIRED = ("torch", "cuda", "vllm", "gpu")

"""The environment contract between the runner and the payload suites.

The runner sets these variables per cell; the defaults let a person run the
suites by hand in any venv that holds torch and vLLM.

| variable | meaning | default |
|---|---|---|
| VLLM_MATRIX_CELL_ID | the cell's id, recorded in JUnit | ``manual`` |
| VLLM_MATRIX_DEVICE | ``cuda`` or ``cpu`` | cuda if torch sees a GPU, else cpu |
| VLLM_MATRIX_DTYPE | model dtype: bfloat16, float16, float32 | float32 on cpu, bfloat16 on cuda |
| VLLM_MATRIX_FA_VERSION | flash-attention version 2 or 3 | unset: vLLM chooses |
| VLLM_MATRIX_ENFORCE_EAGER | 1: no CUDA graphs / torch.compile | 0 |
| VLLM_MATRIX_SEED | hypothesis seed (and model seed) | 0 |
| VLLM_MATRIX_MAX_EXAMPLES | hypothesis examples per kernel test | 6 on cpu, 20 on cuda |
| VLLM_MATRIX_MODEL_DIR | a real local model for the speed figures | unset: skip those |
| VLLM_MATRIX_KERNEL_DTYPES | comma list of dtypes the kernel suite runs | the cell's dtype |

The kernel suite runs in the cell's dtype by default: the matrix has a dtype
axis, and a bf16-only crash then shows in the bf16 cell, not in the float32
reference cell that CI requires to pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DTYPES = ("bfloat16", "float16", "float32")
DEVICES = ("cuda", "cpu")


class PayloadEnvError(ValueError):
    """A variable of the contract holds a value the suites cannot use."""


@dataclass(frozen=True)
class PayloadEnv:
    """What the runner asked of this suite run, with defaults filled in."""

    cell_id: str
    device: str
    dtype: str
    fa_version: int | None
    enforce_eager: bool
    seed: int
    max_examples: int
    model_dir: Path | None
    kernel_dtypes: tuple[str, ...]

    def properties(self) -> dict[str, str]:
        """The values worth recording as JUnit properties on every test."""
        return {
            "cell_id": self.cell_id,
            "device": self.device,
            "dtype": self.dtype,
            "fa_version_requested": "unset" if self.fa_version is None else str(self.fa_version),
            "enforce_eager": str(int(self.enforce_eager)),
            "hypothesis_seed": str(self.seed),
            "kernel_dtypes": ",".join(self.kernel_dtypes),
        }


def _int(environ: dict[str, str], name: str, default: int, allowed: tuple[int, ...] = ()) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PayloadEnvError(f"{name}={raw!r}: expected an integer") from None
    if allowed and value not in allowed:
        raise PayloadEnvError(f"{name}={raw!r}: expected one of {', '.join(map(str, allowed))}")
    return value


def _choice(environ: dict[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = environ.get(name, "").strip() or default
    if value not in allowed:
        raise PayloadEnvError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
    return value


def _dtypes(environ: dict[str, str], default: str) -> tuple[str, ...]:
    raw = environ.get("VLLM_MATRIX_KERNEL_DTYPES", "").strip()
    names = tuple(n.strip() for n in raw.split(",") if n.strip()) if raw else (default,)
    bad = [n for n in names if n not in DTYPES]
    if bad:
        raise PayloadEnvError(f"VLLM_MATRIX_KERNEL_DTYPES={raw!r}: expected names from {', '.join(DTYPES)}")
    return names


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load(environ: dict[str, str] | None = None) -> PayloadEnv:
    """Read the contract from ``environ`` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    device = _choice(env, "VLLM_MATRIX_DEVICE", env.get("VLLM_MATRIX_DEVICE") or _default_device(), DEVICES)
    dtype = _choice(env, "VLLM_MATRIX_DTYPE", "float32" if device == "cpu" else "bfloat16", DTYPES)
    fa_raw = env.get("VLLM_MATRIX_FA_VERSION", "").strip()
    fa_version = _int(env, "VLLM_MATRIX_FA_VERSION", 0, (2, 3)) if fa_raw else None
    model_dir = env.get("VLLM_MATRIX_MODEL_DIR", "").strip()
    if model_dir and not Path(model_dir).is_dir():
        raise PayloadEnvError(f"VLLM_MATRIX_MODEL_DIR={model_dir!r}: not a directory")
    return PayloadEnv(
        cell_id=env.get("VLLM_MATRIX_CELL_ID", "").strip() or "manual",
        device=device,
        dtype=dtype,
        fa_version=fa_version,
        enforce_eager=bool(_int(env, "VLLM_MATRIX_ENFORCE_EAGER", 0, (0, 1))),
        seed=_int(env, "VLLM_MATRIX_SEED", 0),
        max_examples=_int(env, "VLLM_MATRIX_MAX_EXAMPLES", 6 if device == "cpu" else 20),
        model_dir=Path(model_dir) if model_dir else None,
        kernel_dtypes=_dtypes(env, dtype),
    )

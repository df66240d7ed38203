"""One engine for the whole generation suite: started twice (cold, then warm), kept once.

A failed start is kept as data, not raised in the fixture: each test that
needs the engine then FAILS (not errors) with the engine's own last words,
so a dead worker's "exit code: -4" reaches the JUnit failure message.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from payload_common import engine
from payload_common.env import PayloadEnv


@dataclass
class EngineRun:
    """The warm engine (or why there is none) and what its starts cost."""

    env: PayloadEnv
    model: Path
    log: Path
    llm: Any = None
    mechanism: str = "none"
    error: str = ""
    starts: list[float] = field(default_factory=list)

    def require(self) -> Any:
        """The engine, or fail the test with the error and the engine's evidence lines."""
        __tracebackhide__ = True
        if self.llm is None:
            pytest.fail(f"engine did not start: {self.error}\n{self.evidence()}", pytrace=False)
        return self.llm

    def evidence(self) -> str:
        """Evidence lines from the engine processes' output so far."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return str(engine.evidence(text))

    def fail(self, exc: BaseException) -> None:
        """Fail the current test over an engine error, with its evidence."""
        __tracebackhide__ = True
        pytest.fail(f"{type(exc).__name__}: {exc}\n{self.evidence()}", pytrace=False)


@contextlib.contextmanager
def fds_to(path: Path) -> Iterator[None]:
    """Point fds 1 and 2 at ``path`` while engine processes are spawned: they keep writing there."""
    saved = [os.dup(1), os.dup(2)]
    with path.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def start(env: PayloadEnv, model: Path, log: Path, **overrides: Any) -> tuple[Any, str, float]:
    """Build an engine with its processes' output in ``log``; returns LLM, FA mechanism, seconds."""
    began = time.perf_counter()
    with fds_to(log):
        llm, mechanism = engine.build(model, env, **overrides)
    return llm, mechanism, time.perf_counter() - began


def cold_then_warm(env: PayloadEnv, model: Path) -> EngineRun:
    """Start, stop and start again; keep the second (warm compile cache) engine."""
    log = Path(tempfile.mkstemp(prefix="vllm-engine-", suffix=".log")[1])
    run = EngineRun(env=env, model=model, log=log)
    try:
        for attempt in range(2):
            llm, run.mechanism, seconds = start(env, model, log)
            run.starts.append(seconds)
            if attempt == 0:
                engine.shutdown(llm)
            else:
                run.llm = llm
    except Exception as exc:  # the engine's failure is the finding; tests report it
        frames = traceback.format_exc().strip().splitlines()
        run.error = f"{type(exc).__name__}: {exc}\n" + "\n".join(frames[-12:])
    return run

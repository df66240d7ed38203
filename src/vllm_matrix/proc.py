"""Run one subprocess from an argument list, logged, in its own process group, with a timeout.

Everything a stage runs goes through ``run_logged``: the log shows the command
and all of its output, a hang is killed (with its children) at the timeout,
and a crash by signal (SIGSEGV, SIGILL, ...) is a recorded return code, never
an exception, so one bad cell cannot stop the matrix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from vllm_matrix.children import ChildRegistry, die_with_parent

# Seconds a process group gets between SIGTERM and SIGKILL.
KILL_GRACE_S = 5.0
# Return code recorded when the program itself cannot be started (as a shell would).
NOT_FOUND = 127


@dataclass(frozen=True)
class ProcResult:
    """How one subprocess ended. ``returncode`` < 0 means killed by that signal."""

    argv: tuple[str, ...]
    returncode: int | None
    timed_out: bool
    duration_s: float
    log: Path

    @property
    def ok(self) -> bool:
        """Exited 0 within its timeout."""
        return self.returncode == 0 and not self.timed_out

    @property
    def signal_name(self) -> str | None:
        """``SIGSEGV`` for a process killed by signal 11, else None."""
        if self.returncode is None or self.returncode >= 0:
            return None
        return signal_name(-self.returncode)

    def describe(self) -> str:
        """A short phrase for messages: ``exit 2``, ``killed by SIGSEGV``, ``timed out after 30s``."""
        if self.timed_out:
            return f"timed out after {self.duration_s:.0f}s"
        if self.signal_name:
            return f"killed by {self.signal_name} (exit {self.returncode})"
        return f"exit {self.returncode}"


def signal_name(number: int) -> str:
    """``11`` -> ``SIGSEGV``; unknown numbers stay readable."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_logged(
    argv: Sequence[str],
    log: Path,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    children: ChildRegistry | None = None,
    label: str = "",
) -> ProcResult:
    """Run ``argv`` (no shell), appending a header, its stdout+stderr and a footer to ``log``.

    The process gets its own session (process group), no stdin, and dies with this
    process (``children.die_with_parent``). On timeout, or if the caller is interrupted
    (Ctrl-C), the whole group gets SIGTERM, then SIGKILL after ``KILL_GRACE_S``; an
    interrupt is re-raised after the cleanup. With ``children``, the group is written
    down while it runs, so that a later run can end what a killed one left (``label``:
    ``cell/stage``).
    """
    args = tuple(str(a) for a in argv)
    if children is not None:
        env = {**(os.environ if env is None else env), **children.env()}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8", errors="replace") as fh:
        _header(fh, args, cwd)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            fh.write(f"[cannot start {args[0]}: {exc.strerror or exc}]\n")
            return ProcResult(args, NOT_FOUND, False, time.monotonic() - start, log)
        if children is not None:
            children.add(proc.pid, label)
        try:
            returncode, timed_out = _wait(proc, timeout_s, fh)
        finally:
            if children is not None:
                _end_stragglers(proc.pid)
                children.remove(proc.pid)
        result = ProcResult(args, returncode, timed_out, time.monotonic() - start, log)
        fh.write(f"[{result.describe()}; {result.duration_s:.1f}s]\n")
    return result


def _header(fh: IO[str], args: tuple[str, ...], cwd: Path | None) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    where = f" (in {cwd})" if cwd else ""
    fh.write(f"\n[{stamp}] $ {shlex.join(args)}{where}\n")
    fh.flush()


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, fh: IO[str]) -> tuple[int | None, bool]:
    """Wait for ``proc``; kill its group on timeout or interrupt."""
    try:
        return proc.wait(timeout=timeout_s), False
    except subprocess.TimeoutExpired:
        fh.write(f"\n[timeout: no exit after {timeout_s:g}s; killing process group {proc.pid}]\n")
        fh.flush()
        return kill_group(proc), True
    except BaseException:
        fh.write(f"\n[interrupted; killing process group {proc.pid}]\n")
        fh.flush()
        kill_group(proc)
        raise


def kill_group(proc: subprocess.Popen[bytes], grace_s: float | None = None) -> int | None:
    """SIGTERM the process group, then SIGKILL what is left; return the leader's exit code."""
    grace_s = KILL_GRACE_S if grace_s is None else grace_s
    _signal_group(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    _signal_group(proc.pid, signal.SIGKILL)
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        return None


def _end_stragglers(pgid: int) -> None:
    """The leader has exited: end what is left of its group (daemonised workers, engines)."""
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

"""Stage processes must not outlive the run that started them.

Two mechanisms, because a run can die without cleaning up (``kill -9``, an OOM kill):

- every stage process is started with ``PR_SET_PDEATHSIG`` = SIGKILL (Linux):
  when the runner dies, the kernel kills its direct child;
- grandchildren (pytest's xdist workers, vLLM's engine processes) share that
  child's process group but not its death signal, so each group is written
  down in the work dir (``ChildRegistry``, a file per group beside the lock)
  with a token that every process of the run carries in its environment.
  The next run, once it holds the lock (so the run that wrote an entry is
  certainly gone), ends every group still alive whose processes carry the
  token, before it touches any cell. The token keeps a recycled process
  group id of some unrelated program from ever being signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vllm_matrix import fileio

TOKEN_ENV = "VLLM_MATRIX_RUN_TOKEN"
PR_SET_PDEATHSIG = 1
GRACE_S = 5.0


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


@dataclass(frozen=True)
class Left:
    """A process group a dead run left behind, and what it was doing."""

    pgid: int
    cell: str
    stage: str
    pids: tuple[int, ...]


@dataclass(frozen=True)
class ChildRegistry:
    """The process groups this work dir's running stages own: one small JSON file per group."""

    root: Path
    token: str = ""

    @classmethod
    def at(cls, root: Path) -> ChildRegistry:
        """A registry with a fresh token for this run."""
        return cls(root, uuid.uuid4().hex)

    def env(self) -> dict[str, str]:
        """What every stage process of this run carries."""
        return {TOKEN_ENV: self.token}

    def add(self, pgid: int, label: str) -> None:
        """Write down a process group this run started (``label``: ``cell/stage``)."""
        cell, _, stage = label.partition("/")
        entry = {"pgid": pgid, "token": self.token, "cell": cell, "stage": stage, "parent": os.getpid()}
        fileio.write_json(self.root / f"{pgid}.json", entry)

    def remove(self, pgid: int) -> None:
        """The group's leader has ended and its group was cleaned up."""
        (self.root / f"{pgid}.json").unlink(missing_ok=True)

    def reap(self) -> list[Left]:
        """End every group a dead run left (call with the work dir's lock held); what was ended."""
        ended = []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            left = _left(path)
            if left is not None and left.pids:
                end_group(left.pgid)
                ended.append(left)
            path.unlink(missing_ok=True)
        return ended


def _left(path: Path) -> Left | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        pgid, token = int(entry["pgid"]), str(entry["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Left(pgid, str(entry.get("cell", "")), str(entry.get("stage", "")), members(pgid, token))


def members(pgid: int, token: str) -> tuple[int, ...]:
    """The live processes of group ``pgid`` that carry ``token`` in their environment."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != pgid or stat[0] == "Z":
                continue
            if f"{TOKEN_ENV}={token}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
    return tuple(sorted(found))


def end_group(pgid: int, grace_s: float = GRACE_S) -> None:
    """SIGTERM the group, then SIGKILL whatever is still there after ``grace_s``."""
    _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _exists(pgid):
        time.sleep(0.05)
    _signal(pgid, signal.SIGKILL)


def _exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

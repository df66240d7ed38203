"""The work dir: caches shared by runs (uv cache, git mirror, venvs by build key, ...) and its lock.

Default root: the user cache dir (``~/.cache/vllm-matrix`` on Linux); ``--workdir``
or ``$VLLM_MATRIX_WORKDIR`` move it.

The uv cache: ``$UV_CACHE_DIR`` when set; else, with the default work dir, uv's
own default cache (``~/.cache/uv``), shared with nox and the user's other uv
runs, so torch wheels (GBs for CUDA) are downloaded and stored once and a
warm cache makes the CPU reference cell install in seconds; with an explicit
work dir, ``<root>/uv-cache``, so a work dir on a scratch disk keeps its
caches with it. ``uv_cache`` None means "uv's default".
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

from vllm_matrix import fileio
from vllm_matrix.children import ChildRegistry
from vllm_matrix.errors import HarnessError, InputError

WORKDIR_ENV = "VLLM_MATRIX_WORKDIR"


@dataclass(frozen=True)
class Workdir:
    """Paths inside one work dir. Nothing is created until ``ensure`` is called."""

    root: Path
    uv_cache: Path | None = None  # None: uv's own default cache

    @classmethod
    def resolve(cls, explicit: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Workdir:
        """The work dir named by the argument, else ``$VLLM_MATRIX_WORKDIR``, else the user cache dir."""
        env = os.environ if environ is None else environ
        chosen = explicit or env.get(WORKDIR_ENV)
        root = Path(chosen or platformdirs.user_cache_dir("vllm-matrix")).expanduser().absolute()
        if env.get("UV_CACHE_DIR"):
            return cls(root=root, uv_cache=Path(env["UV_CACHE_DIR"]).expanduser().absolute())
        return cls(root=root, uv_cache=root / "uv-cache" if chosen else None)

    @property
    def git_dir(self) -> Path:
        """Bare mirrors of vLLM repositories."""
        return self.root / "git"

    @property
    def worktrees(self) -> Path:
        """One worktree per vLLM commit."""
        return self.root / "worktrees"

    @property
    def fetchcontent(self) -> Path:
        """FETCHCONTENT_BASE_DIR roots (cutlass, vllm-flash-attn, ... cloned once)."""
        return self.root / "fetchcontent"

    @property
    def sdists(self) -> Path:
        """Downloaded sdists, one directory per sha256."""
        return self.root / "sdists"

    @property
    def configure_dirs(self) -> Path:
        """CMake build dirs of configure-only preflights, one per build key."""
        return self.root / "configure"

    @property
    def venvs(self) -> Path:
        """One venv per resolved build key."""
        return self.root / "venvs"

    @property
    def cache_roots(self) -> Path:
        """One VLLM_CACHE_ROOT per cell (stale torch.compile caches cause false failures)."""
        return self.root / "vllm-cache"

    @property
    def verdicts(self) -> Path:
        """The result cache: one verdict file per cache key (``resultcache``)."""
        return self.root / "verdicts"

    @property
    def ccache(self) -> Path:
        """CCACHE_DIR / SCCACHE_DIR for builds."""
        return self.root / "ccache"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def owner_file(self) -> Path:
        """The pid of the run holding the lock, for the message a second run gets."""
        return self.root / ".lock.owner"

    @functools.cached_property
    def children(self) -> ChildRegistry:
        """The process groups this run's stages own, beside the lock (one token per Workdir object)."""
        return ChildRegistry.at(self.root / ".children")

    def ensure(self) -> None:
        """Create the work dir tree; a path that cannot be created is bad input."""
        for path in (self.root, self.git_dir, self.worktrees, self.venvs, self.cache_roots, self.uv_cache):
            if path is None:
                continue
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"work dir {path}: cannot create it ({exc.strerror or exc})") from None

    @contextlib.contextmanager
    def lock(self, say: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the work dir's exclusive lock; a second run fails at once instead of corrupting it.

        Once the lock is held, no other run is alive on this work dir: stage processes that a
        killed run left behind are ended first (``children``), and ``say`` reports each.
        """
        self.ensure()
        lock = FileLock(self.lock_file, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            owner = _read(self.owner_file)
            by = f" (pid {owner})" if owner else ""
            raise HarnessError(
                f"work dir {self.root} is in use by another vllm-matrix run{by} "
                f"(lock {self.lock_file}); wait for it or pass --workdir"
            ) from None
        try:
            fileio.write_atomic(self.owner_file, f"{os.getpid()}\n")
            for left in self.children.reap():
                (say or _stderr)(
                    f"ended {len(left.pids)} process(es) a killed run left in cell {left.cell}, "
                    f"stage {left.stage} (process group {left.pgid})"
                )
            yield
        finally:
            self.owner_file.unlink(missing_ok=True)
            lock.release()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _stderr(line: str) -> None:
    print(f"vllm-matrix: {line}", file=sys.stderr, flush=True)

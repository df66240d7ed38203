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
import fcntl
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

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
    def venvs(self) -> Path:
        """One venv per resolved build key."""
        return self.root / "venvs"

    @property
    def cache_roots(self) -> Path:
        """One VLLM_CACHE_ROOT per cell (stale torch.compile caches cause false failures)."""
        return self.root / "vllm-cache"

    @property
    def ccache(self) -> Path:
        """CCACHE_DIR / SCCACHE_DIR for builds."""
        return self.root / "ccache"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

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
    def lock(self) -> Iterator[None]:
        """Hold the work dir's exclusive lock; a second run fails at once instead of corrupting it."""
        self.ensure()
        with self.lock_file.open("a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise HarnessError(
                    f"work dir {self.root} is in use by another vllm-matrix run "
                    f"(lock {self.lock_file}); wait for it or pass --workdir"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

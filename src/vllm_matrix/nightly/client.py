"""HTTP GET for index pages: timeouts, retries with backoff, an on-disk TTL cache, offline mode.

The nightly index changes once a day, and a matrix run asks for the same
pages many times (every cell resolves its torch), so pages are cached on
disk for ``ttl_s`` seconds. Offline mode reads the cache whatever its age and
never touches the network: that is how a machine without internet resolves
specs it resolved before.

Only transient failures are retried (timeouts, refused connections, 5xx,
429); a 404 is an answer (``IndexNotFound``) and is neither retried nor cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from vllm_matrix import __version__
from vllm_matrix.nightly.errors import IndexNotFound, IndexUnavailable, NightlySpecError

DEFAULT_TTL_S = 3600.0
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF_S = 1.0
_USER_AGENT = f"vllm-matrix/{__version__}"


def default_cache_dir() -> Path:
    """Where pages are cached unless told otherwise: the user cache dir."""
    return Path(platformdirs.user_cache_dir("vllm-matrix")) / "index"


@dataclass
class IndexClient:
    """Reads index pages (text) with a timeout per attempt, retries and a TTL cache.

    ``cache_dir=None`` disables the cache. ``backoff_s`` is the first pause
    between attempts, doubled after each; tests set it near zero.
    """

    cache_dir: Path | None = None
    ttl_s: float = DEFAULT_TTL_S
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    offline: bool = False
    backoff_s: float = DEFAULT_BACKOFF_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    @classmethod
    def for_user(cls, *, offline: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> IndexClient:
        """A client with the per-user page cache (``default_cache_dir()``) and default limits."""
        return cls(cache_dir=default_cache_dir(), offline=offline, timeout_s=timeout_s)

    def get(self, url: str) -> str:
        """The body of ``url`` as text, from the cache when fresh (or when offline)."""
        cached = self._read_cache(url)
        if cached is not None and (self.offline or self.clock() - cached[0] < self.ttl_s):
            return cached[1]
        if self.offline:
            raise IndexUnavailable(f"offline and {url} is not in the cache ({self.cache_dir})")
        body = self._fetch(url)
        self._write_cache(url, body)
        return body

    def _fetch(self, url: str) -> str:
        """One GET with retries; the last failure becomes ``IndexUnavailable``."""
        attempts = max(1, self.retries + 1)
        failure = ""
        for attempt in range(attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return _get_once(url, self.timeout_s)
            except _Transient as exc:
                failure = str(exc)
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        raise IndexUnavailable(f"cannot read {url}: {failure} ({tries})")

    def _cache_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".json")

    def _read_cache(self, url: str) -> tuple[float, str] | None:
        path = self._cache_path(url)
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("url") != url:
            return None
        return float(entry["fetched"]), str(entry["body"])

    def _write_cache(self, url: str, body: str) -> None:
        """Atomic write, so a concurrent reader sees the old entry or the new one.

        Best effort: a cache that cannot be written (read-only, disk full)
        costs a refetch next time, never the answer.
        """
        path = self._cache_path(url)
        if path is None:
            return
        entry = json.dumps({"url": url, "fetched": self.clock(), "body": body})
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(entry)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


class _Transient(Exception):
    """A failure worth retrying."""


def _get_once(url: str, timeout_s: float) -> str:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise NightlySpecError(f"the index must be an http(s):// or file:// URL, got {url!r}")
    if scheme == "file" and url.endswith("/"):
        url += "index.html"  # a mirrored index on disk: directory pages are index.html files
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data: bytes = response.read()
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise IndexNotFound(f"{url} does not exist on the index (HTTP 404)") from None
        if exc.code >= 500 or exc.code == 429:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise IndexUnavailable(f"cannot read {url}: HTTP {exc.code} {exc.reason}") from None
    except TimeoutError:
        raise _Transient(f"timed out after {timeout_s:g} s") from None
    except http.client.HTTPException as exc:
        raise _Transient(f"broken HTTP response ({type(exc).__name__})") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if scheme == "file":
            raise IndexNotFound(f"{url} does not exist ({reason})") from None
        if isinstance(reason, TimeoutError):
            raise _Transient(f"timed out after {timeout_s:g} s") from None
        raise _Transient(str(getattr(reason, "strerror", None) or reason)) from None
    except (ConnectionError, OSError) as exc:
        raise _Transient(str(exc) or type(exc).__name__) from None
    return data.decode(charset, errors="replace")

"""vLLM's sdists: found on a PyPI-style index, downloaded once, checked, read and unpacked.

A release's sdist is vLLM's real source without GitHub: users behind a PyPI
mirror build it the way others build a git checkout. The index is the
matrix's ``[indexes] pypi`` (a PEP 503 simple index URL, ``file://`` included,
or a local find-links directory). A requirement (``vllm==0.32.0``,
``vllm>=0.30``) becomes the newest matching ``.tar.gz`` on the index, with
the sha256 the index states; the file is downloaded once into the work dir
under that hash and checked against it. Pip is never asked to resolve the
sdist: on a machine without CUDA pip sees it as ``0.32.0+cpu``.

An sdist has no git history, so its version comes from its ``PKG-INFO``
(the build passes it on as ``SETUPTOOLS_SCM_PRETEND_VERSION``). Unpacking
uses tarfile's ``data`` filter (no absolute paths, no links out of the tree,
no device files) and renames a finished tree into place, so a half-unpacked
tree is never mistaken for a complete one.

Errors are this module's own (``SdistMissing``, ``SdistUnavailable``,
``SdistCorrupt``); the stage that calls it turns them into verdicts.
"""

from __future__ import annotations

import contextlib
import email.parser
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urljoin, urlsplit

from packaging.requirements import Requirement
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import Version

from vllm_matrix import __version__, fileio
from vllm_matrix.errors import MatrixError
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexNotFound, IndexUnavailable

MARKER = ".vllm-matrix-sdist.json"
DOWNLOAD_ATTEMPTS = 3
_CHUNK = 1 << 20
_ANCHOR = re.compile(r"<a\s([^>]*)>", re.IGNORECASE)
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_YANKED = re.compile(r"\bdata-yanked\b", re.IGNORECASE)
_SHA256 = re.compile(r"sha256=([0-9a-fA-F]{64})")


class SdistError(MatrixError):
    """An sdist could not be had; ``message`` is one line for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SdistMissing(SdistError):
    """The index has no sdist matching the requirement (or the named file does not exist)."""


class SdistUnavailable(SdistError):
    """The index or its file host could not be read (network, HTTP error)."""


class SdistCorrupt(SdistError):
    """The file is not what it should be: wrong hash, truncated, not an archive, no PKG-INFO."""


@dataclass(frozen=True)
class SdistFile:
    """One sdist: its file name and version, where it is, and the sha256 the index states (if any)."""

    filename: str
    version: str
    url: str
    sha256: str | None = None
    yanked: bool = False


def is_local(index: str) -> bool:
    """Whether an index value is a find-links directory rather than a URL."""
    return "://" not in index


def page_url(index: str, project: str) -> str:
    """The PEP 503 page of ``project`` on ``index``."""
    return f"{index.rstrip('/')}/{canonicalize_name(project)}/"


def sdist_version(filename: str, project: str) -> str | None:
    """The version in an sdist file name of ``project``, or None for another project or file."""
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return None
    return str(version) if name == canonicalize_name(project) else None


def parse_links(html: str, url: str, project: str) -> list[SdistFile]:
    """The sdists of ``project`` on a PEP 503 page: file, version, absolute URL, stated sha256, yanked."""
    found = []
    for match in _ANCHOR.finditer(html):
        attributes = match.group(1)
        href = _HREF.search(attributes)
        if href is None:
            continue
        link = urljoin(url, next(g for g in href.groups() if g is not None).strip())
        file_url, _, fragment = link.partition("#")
        filename = unquote(urlsplit(file_url).path.rsplit("/", 1)[-1])
        version = sdist_version(filename, project)
        if version is None:
            continue
        digest = _SHA256.fullmatch(fragment)
        found.append(SdistFile(filename, version, file_url, digest.group(1).lower() if digest else None,
                               bool(_YANKED.search(attributes))))  # fmt: skip
    return found


def local_links(directory: Path, project: str) -> list[SdistFile]:
    """The sdists of ``project`` in a find-links directory (no stated hashes)."""
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    found = []
    for path in files:
        version = sdist_version(path.name, project)
        if version is not None:
            found.append(SdistFile(path.name, version, str(path)))
    return found


def choose(files: Iterable[SdistFile], requirement: Requirement) -> SdistFile | None:
    """The newest sdist the requirement allows; a yanked one only when pinned exactly (PEP 592)."""
    pinned = any(spec.operator in ("==", "===") and "*" not in spec.version for spec in requirement.specifier)
    usable = [f for f in files if pinned or not f.yanked]
    # filter() applies PEP 440's rule: pre-releases only when named or when nothing else matches.
    allowed = {str(v) for v in requirement.specifier.filter(Version(f.version) for f in usable)}
    matching = [f for f in usable if str(Version(f.version)) in allowed]
    return max(matching, key=lambda f: Version(f.version), default=None)


def find(requirement_text: str, index: str, client: IndexClient) -> SdistFile:
    """The sdist ``requirement_text`` names on ``index``: SdistMissing when there is none."""
    requirement = Requirement(requirement_text)
    if is_local(index):
        where, files = index, local_links(Path(index), requirement.name)
    else:
        where = page_url(index, requirement.name)
        files = parse_links(_page(client, where), where, requirement.name)
    chosen = choose(files, requirement)
    if chosen is None:
        raise SdistMissing(f"no sdist of {requirement_text} on {where} ({_newest(files)})")
    return chosen


def _page(client: IndexClient, url: str) -> str:
    try:
        return client.get(url)
    except IndexNotFound:
        raise SdistMissing(f"{url} does not exist on the index (HTTP 404)") from None
    except IndexUnavailable as exc:
        raise SdistUnavailable(str(exc)) from None


def _newest(files: list[SdistFile]) -> str:
    versions = sorted({Version(f.version) for f in files}, reverse=True)
    if not versions:
        return "it lists no sdists of that project"
    return "newest there: " + ", ".join(str(v) for v in versions[:5])


def local_file(path: Path) -> SdistFile:
    """An sdist file on disk, as an ``SdistFile`` whose hash is computed, not stated."""
    if not path.is_file():
        raise SdistMissing(f"sdist file {path} does not exist")
    return SdistFile(path.name, "", str(path), sha256_of(path))


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(file: SdistFile, cache: Path, *, timeout_s: float, log: Path) -> tuple[Path, str]:
    """The sdist on disk and its sha256: a local file as it is, else downloaded once into ``cache``.

    A download lands in ``cache/<sha256>/<filename>``; with a stated hash a file already
    there is reused, and a new download must match it (SdistCorrupt otherwise).
    """
    if not urlsplit(file.url).scheme or urlsplit(file.url).scheme == "file":
        path = Path(unquote(urlsplit(file.url).path)) if "://" in file.url else Path(file.url)
        digest = file.sha256 or sha256_of(path)
        _check_hash(path, digest, file.sha256)
        return path, digest
    if file.sha256:
        cached = cache / file.sha256 / file.filename
        if cached.is_file() and sha256_of(cached) == file.sha256:
            fileio.append(log, f"[sdist {file.filename}: already downloaded to {cached}]")
            return cached, file.sha256
    return _download(file, cache, timeout_s=timeout_s, log=log)


def _check_hash(path: Path, digest: str, stated: str | None) -> None:
    if not path.is_file():
        raise SdistMissing(f"sdist file {path} does not exist")
    if stated and sha256_of(path) != stated:
        raise SdistCorrupt(f"{path} does not match the sha256 the index states ({stated})")


def _download(file: SdistFile, cache: Path, *, timeout_s: float, log: Path) -> tuple[Path, str]:
    """Download to a temporary file (retrying transient failures), check the hash, move into place."""
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=".download-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        digest = _download_with_retries(file.url, tmp, timeout_s=timeout_s, log=log)
        if file.sha256 and digest != file.sha256:
            raise SdistCorrupt(
                f"{file.url} downloaded with sha256 {digest}, but the index states {file.sha256}"
            )
        dest = cache / digest / file.filename
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    fileio.append(log, f"[sdist {file.filename}: downloaded to {dest} (sha256 {digest})]")
    return dest, digest


def _download_with_retries(url: str, dest: Path, *, timeout_s: float, log: Path) -> str:
    failure = ""
    for attempt in range(DOWNLOAD_ATTEMPTS):
        if attempt:
            time.sleep(2.0**attempt)
        fileio.append(log, f"[downloading {url} (attempt {attempt + 1} of {DOWNLOAD_ATTEMPTS})]")
        try:
            return _download_once(url, dest, timeout_s)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise SdistMissing(f"{url} does not exist (HTTP 404)") from None
            failure = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            failure = str(getattr(exc, "reason", None) or exc)
        fileio.append(log, f"[download failed: {failure}]")
    raise SdistUnavailable(f"cannot download {url}: {failure} ({DOWNLOAD_ATTEMPTS} attempts)")


def _download_once(url: str, dest: Path, timeout_s: float) -> str:
    """One GET streamed to ``dest``; the sha256 of what arrived."""
    request = urllib.request.Request(url, headers={"User-Agent": f"vllm-matrix/{__version__}"})
    digest = hashlib.sha256()
    deadline = time.monotonic() + timeout_s
    with urllib.request.urlopen(request, timeout=min(timeout_s, 60.0)) as response, dest.open("wb") as fh:
        for block in iter(lambda: response.read(_CHUNK), b""):
            fh.write(block)
            digest.update(block)
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:g} s")
    return digest.hexdigest()


def pkg_info(archive: Path) -> dict[str, str]:
    """The ``Name`` and ``Version`` of the sdist's top-level ``PKG-INFO`` (SdistCorrupt if unreadable)."""
    text = _read_pkg_info(archive)
    message = email.parser.Parser().parsestr(text, headersonly=True)
    fields = {key: str(message.get(key, "")).strip() for key in ("Name", "Version")}
    if not fields["Version"]:
        raise SdistCorrupt(f"{archive.name}: its PKG-INFO has no Version")
    return fields


def _read_pkg_info(archive: Path) -> str:
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                name = next((n for n in zf.namelist() if _is_top_pkg_info(n)), None)
                return zf.read(name).decode("utf-8", "replace") if name else _no_pkg_info(archive)
        with tarfile.open(archive, "r:*") as tf:
            for member in tf:
                if member.isfile() and _is_top_pkg_info(member.name):
                    handle = tf.extractfile(member)
                    return handle.read().decode("utf-8", "replace") if handle else _no_pkg_info(archive)
    except _ARCHIVE_ERRORS as exc:
        raise SdistCorrupt(f"{archive} is not a readable sdist: {_describe(exc)}") from None
    return _no_pkg_info(archive)


def _is_top_pkg_info(name: str) -> bool:
    parts = name.strip("/").split("/")
    return parts[-1] == "PKG-INFO" and len(parts) <= 2


def _no_pkg_info(archive: Path) -> NoReturn:
    raise SdistCorrupt(f"{archive} has no top-level PKG-INFO: not an sdist")


_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def unpack(archive: Path, dest: Path, sha256: str) -> Path:
    """The source tree of ``archive`` at ``dest``, unpacked once (a tree with our marker is reused).

    The archive's single top-level directory (``vllm-0.32.0/``) becomes ``dest``;
    SdistCorrupt when the archive is truncated, unreadable or not safe to unpack.
    """
    marker = dest / MARKER
    if marker.is_file() and sha256 in marker.read_text(encoding="utf-8", errors="replace"):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".unpack-{dest.name[:40]}-"))
    try:
        _extract(archive, scratch)
        entries = list(scratch.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else scratch
        fileio.write_json(root / MARKER, {"archive": str(archive), "sha256": sha256})
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(root, dest)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(scratch)
    return dest


def _extract(archive: Path, into: Path) -> None:
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(into)  # zipfile drops absolute paths and ".." itself
            return
        with tarfile.open(archive, "r:*") as tf:
            tf.extractall(into, filter="data")
    except _ARCHIVE_ERRORS as exc:
        raise SdistCorrupt(f"{archive} cannot be unpacked (corrupt or truncated): {_describe(exc)}") from None

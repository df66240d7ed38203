"""A fixture torch nightly index serving REAL torch wheels under nightly versions.

The on-disk torch 2.13.0+cpu wheel (found through pip's own configuration,
``pip download``, never a hard-coded path) is repacked as
``torch-2.13.0.devYYYYMMDD+cpu``: the ``.dist-info`` directory is renamed,
METADATA's Version, RECORD and ``torch/version.py`` are rewritten, and every
other entry is copied as stored bytes by the ``zip`` CLI (``zip -d`` then
``zip`` of the new small files), so 200 MB are never recompressed. Repacked
wheels are cached across test runs under a directory keyed by the source
wheel's sha256.

The index is served by ``indexserver.serve_pair`` in the real layout:
``<index>/cpu/torch/`` lists the wheels with absolute links to a second file
host (``%2B`` in hrefs), with ``.whl.metadata`` advertised.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from indexserver import IndexServer, serve_pair, write_index_page

SOURCE_VERSION = "2.13.0+cpu"
CACHE_ENV = "VLLM_MATRIX_TEST_CACHE"
VARIANT = "cpu"


class WheelUnavailable(Exception):
    """The source torch wheel cannot be had here; the message is the skip reason."""


def cache_root() -> Path:
    """Where repacked wheels persist between test runs (``$VLLM_MATRIX_TEST_CACHE`` moves it)."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("vllm-matrix-tests"))


def nightly_version(date: str, base: str = "2.13.0", local: str = "cpu") -> str:
    """``20261101`` -> ``2.13.0.dev20261101+cpu``."""
    return f"{base}.dev{date}+{local}"


def source_wheel(cache: Path) -> Path:
    """The torch 2.13.0+cpu wheel, via ``pip download`` (honours pip's configured find-links).

    The test environment may have no pip (nox makes its venvs with uv), so the pip is that of the
    first Python that has one: this one, the one its venv was made from, ``python3`` on PATH.
    A local ``$VLLM_MATRIX_INDEX_RELEASE`` directory is searched too.
    """
    dest = cache / "source"
    found = sorted(dest.glob(f"torch-{SOURCE_VERSION}-*.whl"))
    if found:
        return found[0]
    dest.mkdir(parents=True, exist_ok=True)
    python = python_with_pip()
    argv = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    argv += _python_tags()
    release = os.environ.get("VLLM_MATRIX_INDEX_RELEASE", "")
    if release and Path(release).is_dir():
        argv += ["--find-links", release]
    try:
        proc = subprocess.run(
            [*argv, f"torch=={SOURCE_VERSION}"], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WheelUnavailable(f"pip download torch=={SOURCE_VERSION} did not finish: {exc}") from None
    found = sorted(dest.glob(f"torch-{SOURCE_VERSION}-*.whl"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise WheelUnavailable(f"pip ({python}) cannot provide torch=={SOURCE_VERSION} here: {last}")
    return found[0]


def python_with_pip() -> str:
    """The first of this Python, its venv's base Python and ``python3`` on PATH that can run pip."""
    seen: list[str] = []
    for candidate in (sys.executable, getattr(sys, "_base_executable", ""), shutil.which("python3") or ""):
        if not candidate or candidate in seen:
            continue
        seen.append(candidate)
        try:
            ok = subprocess.run(
                [candidate, "-m", "pip", "--version"], capture_output=True, timeout=60
            ).returncode
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok == 0:
            return candidate
    raise WheelUnavailable(f"no Python with pip to download torch=={SOURCE_VERSION} ({', '.join(seen)})")


def _python_tags() -> list[str]:
    """``pip download`` options that pick the wheel for this interpreter, whichever pip runs."""
    version = f"{sys.version_info.major}{sys.version_info.minor}"
    return ["--python-version", version, "--implementation", "cp", "--abi", f"cp{version}"]


def file_hash(path: Path) -> str:
    """sha256 hex digest of a (large) file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _new_files(wheel: zipfile.ZipFile, old: str, new: str, version: str) -> dict[str, bytes]:
    """The rewritten dist-info (renamed) and torch/version.py, as archive name -> bytes."""
    out: dict[str, bytes] = {}
    for name in wheel.namelist():
        if name.startswith(f"{old}.dist-info/") and not name.endswith("/RECORD"):
            out[f"{new}.dist-info/" + name.split("/", 1)[1]] = wheel.read(name)
    meta = f"{new}.dist-info/METADATA"
    text = out[meta].decode()
    out[meta] = re.sub(r"^Version: .*$", f"Version: {version}", text, count=1, flags=re.M).encode()
    text = wheel.read("torch/version.py").decode()
    out["torch/version.py"] = re.sub(
        r"^__version__ = .*$", f"__version__ = '{version}'", text, flags=re.M
    ).encode()
    record_name = f"{new}.dist-info/RECORD"
    out[record_name] = _record(wheel.read(f"{old}.dist-info/RECORD").decode(), old, new, out, record_name)
    return out


def _record(text: str, old: str, new: str, files: dict[str, bytes], record_name: str) -> bytes:
    lines = []
    for line in text.splitlines():
        path = line.split(",", 1)[0]
        if path.startswith(f"{old}.dist-info/"):
            path = f"{new}.dist-info/" + path.split("/", 1)[1]
        if path == record_name:
            lines.append(f"{path},,")
        elif path in files:
            lines.append(f"{path},{_record_hash(files[path])},{len(files[path])}")
        else:
            lines.append(path + line[len(line.split(",", 1)[0]) :])
    return ("\n".join(lines) + "\n").encode()


def repack(source: Path, version: str, out_dir: Path) -> Path:
    """``source`` renamed to torch ``version``, stored entries copied as they are (cached in ``out_dir``)."""
    if shutil.which("zip") is None:
        raise WheelUnavailable(
            "the zip command is not installed (needed to repack torch without recompressing)"
        )
    old = source.name.split("-")[0] + "-" + source.name.split("-")[1]
    new = f"torch-{version}"
    target = out_dir / source.name.replace(old, new, 1)
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial.zip")
    shutil.copyfile(source, partial)
    staging = out_dir / f".staging-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(source) as wheel:
        files = _new_files(wheel, old, new, version)
    for name, data in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(data)
    _zip(["-d", str(partial), f"{old}.dist-info/*", "torch/version.py"], cwd=out_dir)
    _zip(["-X", str(partial), *sorted(files, key=lambda n: (n.endswith("/RECORD"), n))], cwd=staging)
    shutil.rmtree(staging)
    partial.rename(target)
    metadata = files[f"{new}.dist-info/METADATA"]
    target.with_name(target.name + ".metadata").write_bytes(metadata)
    return target


def _zip(args: list[str], cwd: Path) -> None:
    """Run the zip CLI, which edits an archive without recompressing the entries it keeps."""
    subprocess.run(["zip", "-q", *args], cwd=cwd, capture_output=True, timeout=600, check=True)


@dataclass
class TorchNightlies:
    """A running fixture index: ``url`` is what ``VLLM_MATRIX_INDEX_NIGHTLY`` should be."""

    index: IndexServer
    files: IndexServer
    wheels: dict[str, Path]

    @property
    def url(self) -> str:
        return self.index.url

    def version(self, date: str) -> str:
        return nightly_version(date)


def repacked_wheels(dates: Sequence[str], cache: Path | None = None) -> dict[str, Path]:
    """One repacked wheel per date (``YYYYMMDD``), reusing earlier repacks."""
    cache = cache or cache_root()
    source = source_wheel(cache)
    out_dir = cache / "repacked" / file_hash(source)[:16]
    return {date: repack(source, nightly_version(date), out_dir) for date in dates}


def write_index(root: Path, wheels: dict[str, Path]) -> tuple[Path, Path]:
    """Index pages and file tree under ``root`` for ``wheels``; returns (index_root, files_root)."""
    index_root, files_root = root / "index", root / "files"
    files_dir = files_root / "whl" / VARIANT
    files_dir.mkdir(parents=True, exist_ok=True)
    for wheel in wheels.values():
        for path in (wheel, wheel.with_name(wheel.name + ".metadata")):
            with contextlib.suppress(FileExistsError):
                _link_or_copy(path, files_dir / path.name)
    listed = [files_dir / w.name for w in wheels.values()]
    write_index_page(index_root / VARIANT / "torch", listed, base_url=f"@FILES@/whl/{VARIANT}", metadata=True)
    return index_root, files_root


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


@contextlib.contextmanager
def serve_nightlies(root: Path, wheels: dict[str, Path]) -> Iterator[TorchNightlies]:
    """Serve ``wheels`` (from ``repacked_wheels``) as a loopback torch nightly index until the block ends."""
    index_root, files_root = write_index(root, wheels)
    with serve_pair(index_root, files_root) as (index, files):
        yield TorchNightlies(index, files, wheels)

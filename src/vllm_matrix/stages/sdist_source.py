"""The ``sdist:`` source for the resolve and source stages: the exact file, then a tree per build key.

resolve: ``sdist:<requirement>`` is looked up on the matrix's PyPI index
(``[indexes] pypi``, ``VLLM_MATRIX_INDEX_PYPI``), downloaded once into
``<work>/sdists/<sha256>/`` and checked against the stated hash;
``sdist:<file>`` is taken as it is (relative to the matrix file). Both are
recorded with their sha256 (which names the build) and PKG-INFO's version.

source: the sdist is unpacked into ``<work>/worktrees/sdist-<name>-<sha>-<build key>``,
one per build key because prepare and the build write into the tree. A tree
without ``CMakeLists.txt`` is not a vLLM source that builds its extensions.

Each way an sdist can be bad is one line and its own class: SDIST_MISSING (no
such sdist on the index, no such file), SDIST_CORRUPT (hash mismatch,
truncated, not an archive, no PKG-INFO), SOURCE_INCOMPLETE (no
CMakeLists.txt), NETWORK_FETCH (the index cannot be read).
"""

from __future__ import annotations

from pathlib import Path

from vllm_matrix import sdist
from vllm_matrix.matrix.cell import slug
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.stages.base import StageContext, StageFailed
from vllm_matrix.stages.state import VllmChoice

SDIST_MISSING = "SDIST_MISSING"
SDIST_CORRUPT = "SDIST_CORRUPT"
SOURCE_INCOMPLETE = "SOURCE_INCOMPLETE"
NETWORK_FETCH = "NETWORK_FETCH"
# Index pages change when a release is published: keep them for minutes, not hours.
PAGE_TTL_S = 600.0


def resolve(ctx: StageContext, value: str) -> VllmChoice:
    """The exact sdist ``value`` names: file, sha256, PKG-INFO version (downloaded when on an index)."""
    try:
        file, requirement = _locate(ctx, value)
        archive, digest = sdist.fetch(file, ctx.work.sdists, timeout_s=ctx.timeout, log=ctx.log)
        info = sdist.pkg_info(archive)
    except sdist.SdistError as exc:
        raise _verdict(ctx, exc) from None
    ctx.note(f"[sdist {archive.name}: {info['Name']} {info['Version']}, sha256 {digest}]")
    url = None if file.url == str(archive) else file.url
    return VllmChoice("sdist", requirement=requirement, url=url, path=str(archive), sha256=digest,
                      version=info["Version"])  # fmt: skip


def _locate(ctx: StageContext, value: str) -> tuple[sdist.SdistFile, str | None]:
    """The sdist file a cell names, and the requirement it was found by (None for a file)."""
    if ctx.cell.source.sdist_file:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else ctx.config.path.parent / path
        return sdist.local_file(path.resolve()), None
    index = ctx.config.index("pypi").effective(ctx.env)
    client = IndexClient(cache_dir=ctx.work.root / "index-cache", ttl_s=PAGE_TTL_S)
    found = sdist.find(value, index, client)
    ctx.note(f"[{value}: {found.filename} on {index} (sha256 {found.sha256 or 'not stated'})]")
    return found, value


def _verdict(ctx: StageContext, exc: sdist.SdistError) -> StageFailed:
    """The stage's failure for an sdist error: one line, its class, the line as evidence."""
    classes = {sdist.SdistMissing: SDIST_MISSING, sdist.SdistCorrupt: SDIST_CORRUPT}
    klass = classes.get(type(exc), NETWORK_FETCH)
    ctx.note(f"error: {exc.message}")
    return ctx.fail(exc.message, klass=klass, evidence=[exc.message])


def tree(ctx: StageContext, vllm: VllmChoice) -> Path:
    """The unpacked sdist for this build key; it must hold a CMakeLists.txt."""
    archive, digest = Path(str(vllm.path)), str(vllm.sha256)
    name = slug(archive.name.removesuffix(".tar.gz").removesuffix(".zip"))
    dest = ctx.work.worktrees / f"sdist-{name}-{digest[:12]}-{ctx.venv.name}"
    try:
        root = sdist.unpack(archive, dest, digest)
    except sdist.SdistError as exc:
        raise _verdict(ctx, exc) from None
    ctx.note(f"[sdist {archive.name} unpacked to {root}]")
    if not (root / "CMakeLists.txt").is_file():
        line = f"the sdist {archive.name} has no CMakeLists.txt: not a vLLM source tree that builds"
        ctx.note(f"error: {line}")
        raise ctx.fail(line, klass=SOURCE_INCOMPLETE, evidence=[line])
    return root

"""vLLM's per-commit wheel index: ``<base>/<commit>/<variant>/vllm/metadata.json`` -> the exact wheel.

vLLM's CI (``.buildkite/scripts/generate-nightly-index.py``) writes, per commit and under
``nightly/`` for main's latest one, a PEP 503 page and a ``metadata.json`` per variant
(``cpu``, ``cu129``, ``cu130``, ...): a list of the wheels with ``filename``, ``version``,
``python_tag``, ``abi_tag``, ``platform_tag``, ``variant`` and ``path`` (relative to the
page, already URL-quoted). Not every variant exists for every commit: a missing one is
``NightlyMissing`` (the cell is skipped), naming the variants the commit does have.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexMalformed, IndexNotFound, NightlyMissing
from vllm_matrix.nightly.pages import fits_platform, fits_python, parse_wheel_name

DEFAULT_BASE = "https://wheels.vllm.ai"
NIGHTLY = "nightly"
# The commit a wheel was built from, in its version: 0.11.2.dev363+ge2f56c309 or ...+ge2f56c309.cu130
_SUBDIR = re.compile(r"""href=["']?([A-Za-z0-9_.-]+)/["'>\s]""")
_GIT_LABEL = re.compile(r"\+g([0-9a-f]{7,40})(?:\.|$)")


@dataclass(frozen=True)
class CommitWheel:
    """The vLLM wheel of one commit and variant that fits the cell's Python and platform."""

    commit: str  # as the cell named it (a sha or "nightly")
    built_from: str | None  # the sha in the wheel's version (short), when it carries one
    variant: str
    version: str
    filename: str
    url: str


def metadata_url(base: str, commit: str, variant: str) -> str:
    """``<base>/<commit>/<variant>/vllm/metadata.json``."""
    return f"{base.rstrip('/')}/{commit}/{variant}/vllm/metadata.json"


def resolve(
    commit: str, variant: str, python: str, platform: str, base: str, client: IndexClient
) -> CommitWheel:
    """The wheel ``commit`` (or ``nightly``) has for ``variant``; NightlyMissing if there is none."""
    url = metadata_url(base, commit, variant)
    try:
        text = client.get(url)
    except IndexNotFound:
        raise NightlyMissing(_missing(commit, variant, base, client)) from None
    for entry in _entries(text, url):
        wheel = parse_wheel_name(str(entry.get("filename", "")))
        if wheel is None or entry.get("package_name") != "vllm":
            continue
        if fits_python(wheel, python) and fits_platform(wheel, platform):
            found = _GIT_LABEL.search(wheel.version)
            return CommitWheel(commit, found.group(1) if found else None, variant, wheel.version,
                               wheel.filename(), urljoin(url, str(entry["path"])))  # fmt: skip
    raise NightlyMissing(
        f"vLLM commit {commit} has no {variant} wheel for Python {python} on {platform} ({url})"
    )


def _entries(text: str, url: str) -> list[dict[str, object]]:
    try:
        data = json.loads(text)
    except ValueError:
        raise IndexMalformed(f"{url} is not JSON") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "path" in e for e in data):
        raise IndexMalformed(f"{url} is not a list of wheels with a 'path' each")
    return data


def _missing(commit: str, variant: str, base: str, client: IndexClient) -> str:
    """Why there is no wheel: the commit has other variants, or none at all."""
    root = f"{base.rstrip('/')}/{commit}/"
    try:
        page = client.get(root)
    except IndexNotFound:
        return f"{base} has no wheels for vLLM commit {commit}"
    variants = sorted(set(_SUBDIR.findall(page)) - {"vllm"})  # the project list links "cu130/", ...
    return (
        f"vLLM commit {commit} has no {variant} wheel (it has: {', '.join(variants) or 'the default only'})"
    )

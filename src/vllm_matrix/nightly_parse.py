"""PEP 503 index pages and wheel file names, as the PyTorch nightly index writes them.

Pure functions, no I/O. What the real index does (failure-catalogue.md):
one anchor per file; hrefs may be absolute and on another host; ``+`` is
written ``%2B``; no ``#sha256=`` fragment on nightlies; anchors carry
``data-dist-info-metadata`` / ``data-core-metadata`` when a ``.whl.metadata``
file exists; the page ends in a ``<!--TIMESTAMP n-->`` comment.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from packaging.version import InvalidVersion, Version

from vllm_matrix.nightly_errors import IndexMalformed

_METADATA_ATTRS = ("data-core-metadata", "data-dist-info-metadata")
# name-version(-build)?-python-abi-platform.whl (PEP 427); names use _ not -.
_WHEEL = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)(?:-(?P<build>\d[^-]*))?"
    r"-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)
_DEV_DATE = re.compile(r"\.dev(\d{8})$")
_NORMALIZE = re.compile(r"[-_.]+")


@dataclass(frozen=True)
class Link:
    """One anchor of an index page.

    ``url`` is absolute and keeps the index's percent-encoding (``%2B``): that
    is the form the file host serves. ``filename`` is unquoted (``+``).
    ``metadata_url`` is set when the anchor advertises a ``.whl.metadata`` file.
    """

    url: str
    filename: str
    metadata_url: str | None


@dataclass(frozen=True)
class WheelName:
    """A parsed wheel file name. ``date`` is the ``.devYYYYMMDD`` build date, if any."""

    name: str
    version: str
    python_tag: str
    abi_tag: str
    platform_tag: str
    build: str = ""

    @property
    def parsed(self) -> Version:
        return Version(self.version)

    @property
    def local(self) -> str:
        """The local label: ``cu128`` in ``2.10.0.dev20261101+cu128``."""
        return self.version.partition("+")[2]

    @property
    def public(self) -> str:
        """The version without its local label."""
        return self.version.partition("+")[0]

    @property
    def date(self) -> dt.date | None:
        """The nightly build date (UTC) encoded as ``.devYYYYMMDD``, else None."""
        match = _DEV_DATE.search(self.public)
        if match is None:
            return None
        try:
            return dt.datetime.strptime(match.group(1), "%Y%m%d").date()
        except ValueError:
            return None

    def filename(self) -> str:
        """The file name this was parsed from (round trip)."""
        build = f"-{self.build}" if self.build else ""
        parts = (self.name, self.version + build, self.python_tag, self.abi_tag, self.platform_tag)
        return "-".join(parts) + ".whl"


class _AnchorParser(HTMLParser):
    """Collects (attributes) of every ``<a>``; counts them even without an href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


@dataclass(frozen=True)
class Page:
    """What a page holds: the usable links, and the anchors that were not usable."""

    url: str
    links: tuple[Link, ...]
    malformed: tuple[str, ...]


def normalize(name: str) -> str:
    """PEP 503 project name normalization: ``pytorch_triton`` -> ``pytorch-triton``."""
    return _NORMALIZE.sub("-", name).lower()


def parse_page(html: str, page_url: str) -> Page:
    """The anchors of a PEP 503 page, resolved against ``page_url``.

    Anchors without an href, or whose href names no file, are returned as
    ``malformed`` (a description each) so the caller can warn; a page with no
    anchors at all is ``IndexMalformed``: a real index page never is empty.
    """
    parser = _AnchorParser()
    parser.feed(html)
    parser.close()
    if not parser.anchors:
        raise IndexMalformed(f"index page {page_url} is empty (no file links)")
    links: list[Link] = []
    malformed: list[str] = []
    for attrs in parser.anchors:
        link = _link(attrs, page_url)
        if link is None:
            malformed.append(_describe(attrs))
        else:
            links.append(link)
    return Page(page_url, tuple(links), tuple(malformed))


def _link(attrs: dict[str, str | None], page_url: str) -> Link | None:
    href = attrs.get("href")
    if not href:
        return None
    url, _ = urldefrag(urljoin(page_url, href.strip()))
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if not filename:
        return None
    advertised = any(a in attrs and attrs[a] != "false" for a in _METADATA_ATTRS)
    return Link(url, filename, url + ".metadata" if advertised else None)


def _describe(attrs: dict[str, str | None]) -> str:
    href = attrs.get("href")
    return f"anchor with href {href!r}" if href else "anchor without href"


def parse_wheel_name(filename: str) -> WheelName | None:
    """Parse ``torch-2.10.0.dev20261101+cu128-cp312-cp312-manylinux_2_28_x86_64.whl``.

    None when the name is not a wheel file name with a valid version.
    """
    match = _WHEEL.match(filename)
    if match is None:
        return None
    try:
        Version(match["version"])
    except InvalidVersion:
        return None
    return WheelName(
        name=match["name"],
        version=match["version"],
        python_tag=match["py"],
        abi_tag=match["abi"],
        platform_tag=match["plat"],
        build=match["build"] or "",
    )


def python_tags(python: str) -> tuple[str, bool]:
    """``"3.12"`` -> ``("cp312", False)``, ``"3.13t"`` (free-threaded) -> ``("cp313", True)``."""
    match = re.fullmatch(r"(\d)\.(\d{1,2})(t?)", python)
    if match is None:
        raise ValueError(f'expected a Python version such as "3.12" or "3.13t", got {python!r}')
    return f"cp{match.group(1)}{match.group(2)}", bool(match.group(3))


def fits_python(wheel: WheelName, python: str) -> bool:
    """Whether the wheel installs on CPython ``python``.

    Free-threaded wheels (ABI ``cp313t``) fit only a free-threaded Python
    (``"3.13t"``), and only they do: the GIL build ignores them.
    """
    cp, free_threaded = python_tags(python)
    pys = wheel.python_tag.split(".")
    abis = wheel.abi_tag.split(".")
    if free_threaded:
        return f"{cp}t" in abis and (cp in pys or f"{cp}t" in pys)
    if cp in pys:
        return cp in abis or "abi3" in abis or "none" in abis
    pure = {"py3", "py" + cp.removeprefix("cp")} & set(pys)
    return bool(pure) and "none" in abis


def fits_platform(wheel: WheelName, platform: str) -> bool:
    """Whether one of the wheel's platform tags serves ``platform``.

    ``linux_x86_64`` (the default) also accepts ``manylinux*_x86_64`` tags, as
    pip does on a glibc Linux; ``any`` wheels fit everywhere; other platforms
    must match a tag exactly.
    """
    for tag in wheel.platform_tag.split("."):
        if tag in (platform, "any"):
            return True
        if platform.startswith("linux_"):
            arch = platform.removeprefix("linux_")
            if tag.startswith("manylinux") and tag.endswith("_" + arch):
                return True
    return False

"""PEP 503 index pages and wheel file names, as the PyTorch nightly index writes them.

Pure functions, no I/O. What the real index does (the reference notes on the nightly index):
one anchor per file; hrefs may be absolute and on another host; ``+`` is
written ``%2B``; no ``#sha256=`` fragment on nightlies; anchors carry
``data-dist-info-metadata`` / ``data-core-metadata`` when a ``.whl.metadata``
file exists; the page ends in a ``<!--TIMESTAMP n-->`` comment.
"""

from __future__ import annotations

import datetime as dt
import functools
import html as html_lib
import re
from dataclasses import dataclass
from urllib.parse import unquote, urljoin

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from vllm_matrix.nightly.errors import IndexMalformed

_METADATA_ATTRS = ("data-core-metadata", "data-dist-info-metadata")
_DEV_DATE = re.compile(r"\.dev(\d{8})$")
# Index pages are machine-written: a regex over <a ...> tags is 5x faster than
# html.parser and handles what the index writes (quoted, unquoted, bare attributes).
_ANCHOR = re.compile(r"<a(?=[\s>])([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*(=)\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


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
        return _date(match.group(1)) if match else None

    def filename(self) -> str:
        """The file name this was parsed from (round trip)."""
        build = f"-{self.build}" if self.build else ""
        parts = (self.name, self.version + build, self.python_tag, self.abi_tag, self.platform_tag)
        return "-".join(parts) + ".whl"


@dataclass(frozen=True)
class Page:
    """What a page holds: the usable links, and the anchors that were not usable."""

    url: str
    links: tuple[Link, ...]
    malformed: tuple[str, ...]


def normalize(name: str) -> str:
    """PEP 503 project name normalization: ``pytorch_triton`` -> ``pytorch-triton``."""
    return str(canonicalize_name(name))


def parse_page(html: str, page_url: str) -> Page:
    """The anchors of a PEP 503 page, resolved against ``page_url``.

    Anchors without an href, or whose href names no file, are returned as
    ``malformed`` (a description each) so the caller can warn; a page with no
    anchors at all is ``IndexMalformed``: a real index page never is empty.
    """
    anchors = [_attributes(m.group(1)) for m in _ANCHOR.finditer(html)]
    if not anchors:
        raise IndexMalformed(f"index page {page_url} is empty (no file links)")
    links: list[Link] = []
    malformed: list[str] = []
    for attrs in anchors:
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
    href = href.strip()
    url = href if href.startswith(("https://", "http://")) else urljoin(page_url, href)
    url = url.partition("#")[0]
    filename = url.partition("?")[0].rsplit("/", 1)[-1]
    filename = unquote(filename) if "%" in filename else filename
    if not filename:
        return None
    advertised = any(a in attrs and attrs[a] != "false" for a in _METADATA_ATTRS)
    return Link(url, filename, url + ".metadata" if advertised else None)


def _attributes(text: str) -> dict[str, str | None]:
    """The attributes of one tag: lower-cased names, unescaped values, None for a bare name."""
    attrs: dict[str, str | None] = {}
    for name, equals, double, single, bare in _ATTRIBUTE.findall(text):
        value = (double or single or bare) if equals else None
        attrs[name.lower()] = html_lib.unescape(value) if value and "&" in value else value
    return attrs


def _describe(attrs: dict[str, str | None]) -> str:
    href = attrs.get("href")
    return f"anchor with href {href!r}" if href else "anchor without href"


def parse_wheel_name(filename: str) -> WheelName | None:
    """Parse ``torch-2.10.0.dev20261101+cu128-cp312-cp312-manylinux_2_28_x86_64.whl``.

    None when the name is not a wheel file name with a valid version (``packaging`` decides);
    the tags are kept as the file writes them (compressed tag sets included).
    """
    try:
        parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return None
    parts = filename.removesuffix(".whl").split("-")
    return WheelName(
        name=parts[0],
        version=parts[1],
        python_tag=parts[-3],
        abi_tag=parts[-2],
        platform_tag=parts[-1],
        build=parts[2] if len(parts) == 6 else "",
    )


@functools.lru_cache(maxsize=4096)
def _date(digits: str) -> dt.date | None:
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


@functools.lru_cache(maxsize=64)
def python_tags(python: str) -> tuple[str, bool]:
    """``"3.12"`` -> ``("cp312", False)``, ``"3.13t"`` (free-threaded) -> ``("cp313", True)``."""
    match = re.fullmatch(r"(\d)\.(\d{1,2})(t?)", python)
    if match is None:
        raise ValueError(f'expected a Python version such as "3.12" or "3.13t", got {python!r}')
    return f"cp{match.group(1)}{match.group(2)}", bool(match.group(3))


def fits_python(wheel: WheelName, python: str) -> bool:
    """Whether the wheel installs on CPython ``python``.

    Free-threaded wheels (ABI ``cp313t``) fit only a free-threaded Python
    (``"3.13t"``), and only they do: the GIL build ignores them. A stable-ABI
    wheel (``cp38-abi3``, as vLLM publishes) fits every later CPython 3.
    """
    cp, free_threaded = python_tags(python)
    minor = int(cp.removeprefix("cp3"))
    return any(
        _fits_pair(py, abi, cp, minor, free_threaded)
        for py in wheel.python_tag.split(".")
        for abi in wheel.abi_tag.split(".")
    )


def _fits_pair(py: str, abi: str, cp: str, minor: int, free_threaded: bool) -> bool:
    if free_threaded:
        return abi == f"{cp}t" and py in (cp, f"{cp}t")
    if abi == "abi3":
        return py.startswith("cp3") and py[3:].isdigit() and int(py[3:]) <= minor
    if abi == "none":
        return py in (cp, "py3", f"py3{minor}")
    return py == cp and abi == cp


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

"""One package page of the nightly index, read into typed wheels that fit a Python and platform.

``Listing.nightlies()`` is the per-date view resolution works on: one wheel
per ``.devYYYYMMDD`` date, and when two base versions share a date (a version
bump) the highest version wins, which is what ``pip install`` would pick.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.version import Version

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexMalformed, NightlyMissing, NightlySpecError
from vllm_matrix.nightly.pages import (
    Link,
    WheelName,
    fits_platform,
    fits_python,
    normalize,
    parse_page,
    parse_wheel_name,
    python_tags,
)

DEFAULT_PLATFORM = "linux_x86_64"


@dataclass(frozen=True)
class NightlyWheel:
    """One wheel file on the index, parsed. ``url`` keeps the index's ``%2B`` encoding."""

    package: str
    version: str
    date: dt.date | None
    variant: str
    python_tag: str
    abi_tag: str
    platform_tag: str
    filename: str
    url: str
    metadata_url: str | None = None

    @property
    def base_version(self) -> str:
        """``2.10.0`` for ``2.10.0.dev20261101+cu128``."""
        return Version(self.version).base_version

    @property
    def requirement(self) -> str:
        """The exact pin, e.g. ``torch==2.10.0.dev20261101+cu128``."""
        return f"{self.package}=={self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "version": self.version,
            "date": self.date.isoformat() if self.date else None,
            "variant": self.variant,
            "python_tag": self.python_tag,
            "abi_tag": self.abi_tag,
            "platform_tag": self.platform_tag,
            "filename": self.filename,
            "url": self.url,
            "metadata_url": self.metadata_url,
        }


@dataclass(frozen=True)
class Listing:
    """The wheels of one package page that fit a Python and a platform."""

    page_url: str
    package: str
    variant: str
    wheels: tuple[NightlyWheel, ...]
    malformed: tuple[str, ...] = ()
    on_page: int = field(default=0)

    def nightlies(self) -> list[NightlyWheel]:
        """One wheel per nightly date, oldest first; a date's highest version wins."""
        best: dict[dt.date, NightlyWheel] = {}
        for wheel in self.wheels:
            if wheel.date is None or _local(wheel.version) != self.variant:
                continue
            held = best.get(wheel.date)
            if held is None or Version(wheel.version) > Version(held.version):
                best[wheel.date] = wheel
        return [best[d] for d in sorted(best)]


def page_url(index_url: str, variant: str, package: str) -> str:
    """``<index>/<variant>/<package>/``: the trailing slash matters to the real index."""
    return f"{index_url.rstrip('/')}/{variant}/{normalize(package)}/"


def list_nightlies(
    cuda: str,
    python: str,
    index_url: str,
    *,
    package: str = "torch",
    platform: str = DEFAULT_PLATFORM,
    client: IndexClient | None = None,
) -> Listing:
    """Read one package page and keep the wheels that fit ``python`` and ``platform``."""
    _check_python(python)
    url = page_url(index_url, cuda, package)
    page = parse_page((client or IndexClient()).get(url), url)
    wheels: list[NightlyWheel] = []
    malformed = list(page.malformed)
    named = 0
    for link in page.links:
        name = parse_wheel_name(link.filename)
        if name is None:
            if link.filename.endswith(".whl"):
                malformed.append(f"unparseable wheel name {link.filename!r}")
            continue
        named += 1
        if normalize(name.name) == normalize(package) and _fits(name, python, platform):
            wheels.append(_wheel(name, link, package, cuda))
    if not named:
        anchors = len(page.links) + len(page.malformed)
        raise IndexMalformed(f"index page {url} has {anchors} anchors but no wheel file")
    return Listing(url, normalize(package), cuda, tuple(wheels), tuple(malformed), named)


def _fits(name: WheelName, python: str, platform: str) -> bool:
    return fits_python(name, python) and fits_platform(name, platform)


def _wheel(name: WheelName, link: Link, package: str, variant: str) -> NightlyWheel:
    return NightlyWheel(
        package=normalize(package),
        version=name.version,
        date=name.date,
        variant=variant,
        python_tag=name.python_tag,
        abi_tag=name.abi_tag,
        platform_tag=name.platform_tag,
        filename=link.filename,
        url=link.url,
        metadata_url=link.metadata_url,
    )


def _local(version: str) -> str:
    return version.partition("+")[2]


def _check_python(python: str) -> None:
    try:
        python_tags(python)
    except ValueError as exc:
        raise NightlySpecError(str(exc)) from None


def select_date(
    day: dt.date, nightlies: Sequence[NightlyWheel], cuda: str, what: str = "nightly"
) -> NightlyWheel:
    """The nightly dated ``day``, else ``NightlyMissing`` naming the nearest dates present."""
    dates = [w.date for w in nightlies if w.date is not None]
    at = bisect.bisect_left(dates, day)
    if at < len(dates) and dates[at] == day:
        return nightlies[at]
    near = [str(d) for d in (dates[at - 1] if at else None, dates[at] if at < len(dates) else None) if d]
    hint = f" (nearest: {', '.join(near)})" if near else " (it lists none)"
    if at == 0 and dates:
        hint += "; the index keeps only about 60 days"
    raise NightlyMissing(f"{cuda} has no {what} for {day}{hint}")

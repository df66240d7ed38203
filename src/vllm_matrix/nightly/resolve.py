"""Resolve torch nightly specs to exact wheels on the PyTorch nightly index.

A cell's ``nightly:latest`` must become an exact version before it runs, so a
report always names what ran. This module answers, for an index base URL,
a CUDA variant, a Python and a platform: which nightlies exist, and which
exact wheel (plus the wheels torch pins) a spec means.

Modules: ``nightly_parse`` (PEP 503 pages, wheel file names; pure),
``nightly_http`` (``IndexClient``: timeouts, retries, TTL cache, offline),
``nightly_listing`` (a page -> typed wheels, the per-date view),
``nightly_companions`` (pinned triton, same-date torchvision/torchaudio),
``nightly_git`` (nightly commit message -> main sha -> compare URL), and this
module, which resolves specs. Everything a caller needs is re-exported here.

API (what the runner and bisection call)::

    resolve_torch(spec: TorchSpec, cuda: str, python: str, index_url: str, *,
                  platform: str = "linux_x86_64", today: date | None = None,
                  client: IndexClient | None = None,
                  with_packages: Sequence[str] = ()) -> ResolvedTorch
        .torch: NightlyWheel            the exact torch wheel
        .companions: tuple[NightlyWheel, ...]
                                        pytorch-triton/triton as pinned in torch's
                                        .whl.metadata (when the index advertises it),
                                        then ``with_packages`` (torchvision, torchaudio)
                                        of the same date
        .metadata_read: bool            False: no metadata advertised, triton not looked up
        .requirements() -> list[str]    ["torch==2.10.0.dev20261101+cu128", "pytorch-triton==..."]
        .install_index -> str           "<index_url>/<variant>": the --index-url to install from
        .to_dict() -> dict              for result.json
    parse_range("nightly:A..B") -> (date, date)       NightlySpecError when A > B
    resolve_range(start: date, end: date, cuda, python, index_url, *, platform, today, client)
        -> list[NightlyWheel]           the nightlies actually present in [start, end], oldest first
    list_nightlies(cuda, python, index_url, *, package="torch", platform, client) -> Listing
        .nightlies() -> list[NightlyWheel]  one per date, oldest first
    select(spec, nightlies, cuda, today) -> NightlyWheel      pure: no I/O
    IndexClient(cache_dir=None, ttl_s=3600, timeout_s=30, retries=3, offline=False,
                backoff_s=1.0).get(url) -> str               IndexClient.for_user(): per-user cache
    nightly_git.main_sha_from_message(msg) -> str | None
    nightly_git.compare_url(good_sha, bad_sha) -> str
    nightly_git.message_from_checkout(repo: Path, sha) / message_from_api(sha, api_base=...) -> str

``NightlyWheel`` fields: package, version (exact, with its local label),
date (None for undated wheels such as triton), variant (the index variant it
was listed under), python_tag, abi_tag, platform_tag, filename (unquoted),
url (absolute, as the index wrote it: ``%2B``), metadata_url (or None).
``resolve_torch`` without ``client`` uses ``IndexClient()``: no cache, default limits.

Errors (all ``NightlyError``, a ``MatrixError``): ``NightlyMissing`` (no such
nightly on the index: a SKIP), ``IndexUnavailable`` / ``IndexNotFound``
(unreachable, timeout, HTTP error, 404 variant, offline without cache: a FAIL,
NETWORK_FETCH), ``IndexMalformed`` (empty page, no wheel anchors),
``NightlySpecError`` (future date, reversed range: bad input, exit code 2).

Choices: the date of a nightly is the ``.devYYYYMMDD`` in its version (the
UTC build date). When two base versions share a date (a version bump), the
highest version wins: what ``pip install torch==*.devYYYYMMDD`` would pick,
and the newer branch point. ``latest~N`` counts dates present on the index,
not calendar days. Free-threaded wheels fit only ``python="3.13t"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vllm_matrix.matrix import specs
from vllm_matrix.matrix.specs import SpecError, TorchSpec
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.companions import pinned, same_date
from vllm_matrix.nightly.errors import (
    NightlyMissing,
    NightlySpecError,
)
from vllm_matrix.nightly.listing import (
    DEFAULT_PLATFORM,
    Listing,
    NightlyWheel,
    list_nightlies,
    select_date,
)


@dataclass(frozen=True)
class ResolvedTorch:
    """What a torch spec resolved to: the torch wheel and the wheels that go with it."""

    spec: str
    index_url: str
    torch: NightlyWheel
    companions: tuple[NightlyWheel, ...] = ()
    metadata_read: bool = False

    def requirements(self) -> list[str]:
        """Exact pins for torch and its companions, ready for ``uv pip install``."""
        return [w.requirement for w in (self.torch, *self.companions)]

    @property
    def install_index(self) -> str:
        """The variant's index, for ``--index-url`` (with ``--prerelease allow`` for uv)."""
        return f"{self.index_url.rstrip('/')}/{self.torch.variant}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "index_url": self.index_url,
            "install_index": self.install_index,
            "torch": self.torch.to_dict(),
            "companions": [w.to_dict() for w in self.companions],
            "metadata_read": self.metadata_read,
            "requirements": self.requirements(),
        }


def spec_text(spec: TorchSpec) -> str:
    """The spec as a matrix file writes it: ``nightly:latest~1``, ``nightly:2026-11-03``."""
    if spec.kind == "latest":
        return f"nightly:latest~{spec.back}" if spec.back else "nightly:latest"
    if spec.kind == "date":
        return f"nightly:{spec.date}"
    return spec.version


def utc_today() -> dt.date:
    """The nightly date today: nightlies are dated by their UTC build date."""
    return dt.datetime.now(dt.UTC).date()


def check_date(day: dt.date, today: dt.date, what: str) -> None:
    """A nightly date after today (UTC) cannot exist yet: bad input, not a missing nightly."""
    if day > today:
        raise NightlySpecError(f"{what} {day} is in the future (today is {today} UTC)")


def select(
    spec: TorchSpec, nightlies: Sequence[NightlyWheel], cuda: str, today: dt.date | None = None
) -> NightlyWheel:
    """The wheel ``spec`` means among ``nightlies`` (one per date, oldest first). No I/O."""
    today = today or utc_today()
    if spec.kind == "release":
        return _select_release(spec.version, nightlies, cuda)
    if spec.kind == "date":
        assert spec.date is not None  # TorchSpec("date") always carries one
        check_date(spec.date, today, "nightly date")
        return select_date(spec.date, nightlies, cuda)
    if spec.back >= len(nightlies):
        have = f"{len(nightlies)} nightl{'y' if len(nightlies) == 1 else 'ies'}"
        raise NightlyMissing(f"{cuda} lists {have}; {spec_text(spec)} needs at least {spec.back + 1}")
    return nightlies[-1 - spec.back]


def _select_release(version: str, wheels: Sequence[NightlyWheel], cuda: str) -> NightlyWheel:
    wanted = version if "+" in version else f"{version}+{cuda}"
    for wheel in wheels:
        if wheel.version in (version, wanted):
            return wheel
    raise NightlyMissing(f"{cuda} has no torch {version} for this Python and platform")


def parse_range(value: str) -> tuple[dt.date, dt.date]:
    """``nightly:A..B`` (or ``A..B``) -> (A, B); a reversed range is ``NightlySpecError``."""
    try:
        return specs.parse_range(value)
    except SpecError as exc:
        raise NightlySpecError(str(exc)) from None


def select_range(
    start: dt.date, end: dt.date, nightlies: Sequence[NightlyWheel], today: dt.date | None = None
) -> list[NightlyWheel]:
    """The nightlies dated within [start, end], oldest first; a reversed range is bad input."""
    if start > end:
        raise NightlySpecError(f"range nightly:{start}..{end} starts after it ends")
    check_date(end, today or utc_today(), "range end")
    return [w for w in nightlies if w.date is not None and start <= w.date <= end]


def resolve_range(
    start: dt.date,
    end: dt.date,
    cuda: str,
    python: str,
    index_url: str,
    *,
    platform: str = DEFAULT_PLATFORM,
    today: dt.date | None = None,
    client: IndexClient | None = None,
) -> list[NightlyWheel]:
    """The torch nightlies actually on the index between two dates (bisection's candidates)."""
    select_range(start, end, (), today)  # bad input fails before any network access
    listing = list_nightlies(cuda, python, index_url, platform=platform, client=client)
    return select_range(start, end, listing.nightlies(), today)


def resolve_torch(
    spec: TorchSpec,
    cuda: str,
    python: str,
    index_url: str,
    *,
    platform: str = DEFAULT_PLATFORM,
    today: dt.date | None = None,
    client: IndexClient | None = None,
    with_packages: Sequence[str] = (),
) -> ResolvedTorch:
    """Resolve a torch spec to the exact wheel, plus the companions that must match it.

    Companions: what torch's metadata pins among ``pytorch-triton``/``triton``
    (read only when the index advertises the ``.whl.metadata``), then each of
    ``with_packages`` (e.g. torchvision, torchaudio) dated the same day.
    """
    today = today or utc_today()
    if spec.kind == "date" and spec.date is not None:
        check_date(spec.date, today, "nightly date")
    client = client or IndexClient()
    listing = list_nightlies(cuda, python, index_url, platform=platform, client=client)
    pool = listing.wheels if spec.kind == "release" else listing.nightlies()
    if not pool:
        raise NightlyMissing(_none_fit(listing, python, platform))
    torch = select(spec, pool, cuda, today)
    metadata = client.get(torch.metadata_url) if torch.metadata_url else None
    pins = pinned(metadata, torch, index_url, python, platform, client) if metadata else []
    dated = [same_date(torch, pkg, index_url, python, platform, client) for pkg in with_packages]
    return ResolvedTorch(spec_text(spec), index_url, torch, (*pins, *dated), metadata is not None)


def _none_fit(listing: Listing, python: str, platform: str) -> str:
    return (
        f"{listing.variant} lists no {listing.package} nightly for Python {python} on {platform} "
        f"({listing.on_page} wheels on {listing.page_url})"
    )

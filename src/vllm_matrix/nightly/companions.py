"""The wheels that must be installed with a torch nightly: pinned triton, same-date vision/audio.

torch's core metadata pins ``pytorch-triton`` (or ``triton``) to an exact
build with no date in its version, so it is found by that pin; torchvision
and torchaudio are built per nightly date, so they are found by torch's date.
The ``.whl.metadata`` file is read only when the index advertises it
(``data-core-metadata``); the wheel itself is never downloaded.
"""

from __future__ import annotations

from email.parser import Parser

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexMalformed, NightlyMissing, NightlySpecError
from vllm_matrix.nightly.listing import NightlyWheel, list_nightlies, select_date
from vllm_matrix.nightly.pages import normalize

PINNED_COMPANIONS = ("pytorch-triton", "triton")
DATED_COMPANIONS = ("torchvision", "torchaudio")


def companion_pins(metadata: str, python: str, platform: str) -> list[Requirement]:
    """The ``Requires-Dist`` entries naming triton that apply to ``python`` on ``platform``."""
    message = Parser().parsestr(metadata, headersonly=True)
    if not message.get("Metadata-Version") and not message.get("Name"):
        raise IndexMalformed("torch's .whl.metadata is not core metadata (no Metadata-Version)")
    pins: list[Requirement] = []
    for line in message.get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            raise IndexMalformed(f"torch's .whl.metadata has an invalid Requires-Dist: {line!r}") from None
        if normalize(req.name) in PINNED_COMPANIONS and _applies(req.marker, python, platform):
            pins.append(req)
    return pins


def _applies(marker: Marker | None, python: str, platform: str) -> bool:
    if marker is None:
        return True
    return marker.evaluate(marker_environment(python, platform))


def marker_environment(python: str, platform: str) -> dict[str, str]:
    """PEP 508 marker values for CPython ``python`` on ``platform`` (``linux_x86_64``, ``win_amd64``)."""
    version = python.rstrip("t")
    system, machine, sys_platform = "Linux", platform.rpartition("_")[2], "linux"
    if platform.startswith("win"):
        system, machine, sys_platform = "Windows", "AMD64" if platform.endswith("amd64") else "ARM64", "win32"
    elif platform.startswith("macosx"):
        system, sys_platform = "Darwin", "darwin"
    elif "x86_64" in platform:
        machine = "x86_64"
    return {
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_system": system,
        "platform_machine": machine,
        "sys_platform": sys_platform,
        "os_name": "nt" if system == "Windows" else "posix",
        "extra": "",
    }


def pinned(
    metadata: str, torch: NightlyWheel, index_url: str, python: str, platform: str, client: IndexClient
) -> list[NightlyWheel]:
    found: list[NightlyWheel] = []
    for req in companion_pins(metadata, python, platform):
        listing = list_nightlies(
            torch.variant, python, index_url, package=req.name, platform=platform, client=client
        )
        fitting = [w for w in listing.wheels if req.specifier.contains(w.version, prereleases=True)]
        if not fitting:
            raise NightlyMissing(
                f"{torch.variant} has no {req.name}{req.specifier} for Python {python} on {platform}, "
                f"which torch {torch.version} requires"
            )
        found.append(max(fitting, key=lambda w: Version(w.version)))
    return found


def same_date(
    torch: NightlyWheel, package: str, index_url: str, python: str, platform: str, client: IndexClient
) -> NightlyWheel:
    listing = list_nightlies(
        torch.variant, python, index_url, package=package, platform=platform, client=client
    )
    if torch.date is None:
        raise NightlySpecError(f"{package} by date needs a nightly torch, not {torch.version}")
    what = f"{normalize(package)} nightly"
    return select_date(torch.date, listing.nightlies(), torch.variant, what)

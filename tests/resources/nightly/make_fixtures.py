"""Regenerate the fixture pages in this directory: ``python3 make_fixtures.py``.

The pages copy the real index's format (failure-catalogue.md, "The torch
nightly index"); README.md says what each variant holds and why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
INDEX = HERE / "index"
FILES = HERE / "files"
NIGHTLY = "whl/nightly"
PYTHONS = ("cp310", "cp311", "cp312", "cp313")
LINUX = ("manylinux_2_28_x86_64", "manylinux_2_28_aarch64")
TRITON_PLATFORM = "manylinux_2_27_x86_64.manylinux_2_28_x86_64"
TIMESTAMP = 1794960000


def day(n: int) -> dt.date:
    return dt.date(2026, 11, n)


def torch_files(variant: str, base: str, date: dt.date, extra_platforms: tuple[str, ...] = ()) -> list[str]:
    version = f"{base}.dev{date:%Y%m%d}+{variant}"
    names = [f"torch-{version}-{py}-{py}-{plat}.whl" for py in PYTHONS for plat in LINUX]
    names.append(f"torch-{version}-cp313-cp313t-manylinux_2_28_x86_64.whl")
    names += [f"torch-{version}-cp312-cp312-{plat}.whl" for plat in extra_platforms]
    return names


def metadata(name: str, version: str, pins: list[str]) -> str:
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", "Requires-Python: >=3.10"]
    lines += ["Requires-Dist: filelock", "Requires-Dist: sympy>=1.13.3"]
    lines += [f"Requires-Dist: {pin}" for pin in pins]
    lines += ['Requires-Dist: opt-einsum>=3.3; extra == "opt-einsum"', "Provides-Extra: opt-einsum"]
    return "\n".join(lines) + "\n\nthe long description\n"


def anchor(href: str, filename: str, meta: str | None) -> str:
    attrs = ""
    if meta is not None:
        value = "true" if meta == "" else f"sha256={hashlib.sha256(meta.encode()).hexdigest()}"
        attrs = f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
    return f'<a href="{href}"{attrs}>{filename}</a><br/>'


def page(package: str, anchors: list[str]) -> str:
    body = "\n".join(f"    {a}" for a in anchors)
    return (
        "<!DOCTYPE html>\n<html>\n  <body>\n"
        f"    <h1>Links for {package}</h1>\n{body}\n  </body>\n</html>\n<!--TIMESTAMP {TIMESTAMP}-->\n"
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


class Variant:
    """One variant directory: pages on the index host, metadata files where the hrefs point."""

    def __init__(self, variant: str, *, host_relative: bool = False, bare_metadata: bool = False) -> None:
        self.variant = variant
        self.host_relative = host_relative
        self.bare_metadata = bare_metadata
        self.pages: dict[str, list[str]] = {}

    def add(self, package: str, filename: str, meta: str | None = None) -> None:
        prefix = "" if self.host_relative else "@FILES@"
        href = f"{prefix}/{NIGHTLY}/{self.variant}/{quote(filename)}"
        if meta is not None:
            root = INDEX if self.host_relative else FILES
            write(root / NIGHTLY / self.variant / (filename + ".metadata"), meta)
            meta = "" if self.bare_metadata else meta
        self.pages.setdefault(package, []).append(anchor(href, filename, meta))

    def write(self) -> None:
        for package, anchors in self.pages.items():
            write(INDEX / NIGHTLY / self.variant / package / "index.html", page(package, sorted(anchors)))


def add_torch(
    v: Variant, base: str, date: dt.date, pins: list[str] | None, extra: tuple[str, ...] = ()
) -> None:
    """Torch wheels of one date; only the cp312 ones advertise a .whl.metadata (kept small)."""
    for name in torch_files(v.variant, base, date, extra):
        version, py = name.split("-")[1:3]
        meta = pins is not None and py == "cp312"
        v.add("torch", name, metadata("torch", version, pins) if meta and pins is not None else None)


def cu128() -> Variant:
    v = Variant("cu128")
    old_pin = [
        'pytorch-triton==3.5.0+git1111aaaa; platform_system == "Linux" and platform_machine == "x86_64"'
    ]
    new_pin = [
        'pytorch-triton==3.6.0+git2222bbbb; platform_system == "Linux" and platform_machine == "x86_64"'
    ]
    for n in (1, 2):
        add_torch(v, "2.10.0", day(n), None, extra=("win_amd64",))
    add_torch(v, "2.10.0", day(4), old_pin)
    add_torch(v, "2.10.0", day(5), old_pin)
    add_torch(v, "2.11.0", day(5), new_pin)
    for n in (6, 7, 9):
        add_torch(v, "2.11.0", day(n), new_pin)
    for pin in ("3.5.0+git1111aaaa", "3.6.0+git2222bbbb", "3.6.0+git9999ffff"):
        for py in PYTHONS:
            v.add("pytorch-triton", f"pytorch_triton-{pin}-{py}-{py}-{TRITON_PLATFORM}.whl")
    for n in (1, 2, 4, 5, 6, 7):
        v.add(
            "torchvision",
            f"torchvision-0.25.0.dev{day(n):%Y%m%d}+cu128-cp312-cp312-manylinux_2_28_x86_64.whl",
        )
    for n in (1, 2, 4, 5, 6, 7, 9):
        v.add(
            "torchaudio", f"torchaudio-2.10.0.dev{day(n):%Y%m%d}+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"
        )
    return v


def cu129() -> Variant:
    v = Variant("cu129")
    for n in (1, 3, 4, 5, 6):
        add_torch(v, "2.10.0", day(n), None)
    return v


def cu130() -> Variant:
    v = Variant("cu130")
    pin = ['triton==3.6.0+git3333cccc; platform_system == "Linux"']
    for n in (5, 6, 7, 8, 9):
        add_torch(v, "2.11.0", day(n), pin)
    v.add("triton", "triton-3.6.0+git3333cccc-cp312-cp312-manylinux_2_28_x86_64.whl")
    return v


def cpu() -> Variant:
    v = Variant("cpu", host_relative=True, bare_metadata=True)
    for n in range(1, 10):
        base = "2.10.0" if n < 5 else "2.11.0"
        add_torch(v, base, day(n), [], extra=("macosx_11_0_arm64", "win_amd64"))
    return v


def faulty() -> None:
    """Pages the client must survive or reject with a clear message."""
    good = [f"torch-2.11.0.dev20261105+cu128-cp312-cp312-{plat}.whl" for plat in LINUX]
    mixed = [anchor(f"@FILES@/{NIGHTLY}/cu128/{quote(n)}", n, None) for n in good]
    mixed += [
        "<a>torch-2.11.0.dev20261106+cu128-cp312-cp312-manylinux_2_28_x86_64.whl</a><br/>",
        '<a href="">empty href</a><br/>',
        f'<a href="@FILES@/{NIGHTLY}/cu128/torch-2.11.0.devXYZ-cp312.whl">torch-2.11.0.devXYZ</a><br/>',
        f'<a href="@FILES@/{NIGHTLY}/cu128/torch-2.11.0.tar.gz">torch-2.11.0.tar.gz</a><br/>',
    ]
    write(INDEX / "malformed/cu128/torch/index.html", page("torch", mixed))
    portal = ['<a href="/login">Sign in to continue</a>', '<a href="https://example.invalid/">Help</a>']
    write(INDEX / "portal/cu128/torch/index.html", page("torch", portal))
    write(INDEX / "blank/cu128/torch/index.html", page("torch", []))
    write(INDEX / "empty/cu128/torch/index.html", "")


def main() -> None:
    for tree in (INDEX, FILES):
        shutil.rmtree(tree, ignore_errors=True)
    for variant in (cu128(), cu129(), cu130(), cpu()):
        variant.write()
    faulty()
    commits = HERE / "index/repos/pytorch/pytorch/commits"
    write(
        commits / "aaaa000011112222333344445555666677778888",
        '{"sha": "aaaa000011112222333344445555666677778888", "commit": {"message": '
        '"2026-11-04 nightly release (0123456789abcdef0123456789abcdef01234567)"}}\n',
    )
    write(
        commits / "bbbb000011112222333344445555666677778888",
        '{"sha": "bbbb000011112222333344445555666677778888", "commit": {"message": '
        '"2026-11-06 nightly release (fedcba9876543210fedcba9876543210fedcba98)"}}\n',
    )


if __name__ == "__main__":
    main()

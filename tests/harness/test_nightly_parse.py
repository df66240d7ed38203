"""PEP 503 pages and wheel file names as the PyTorch nightly index writes them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_matrix.nightly.errors import IndexMalformed
from vllm_matrix.nightly.pages import (
    fits_platform,
    fits_python,
    normalize,
    parse_page,
    parse_wheel_name,
    python_tags,
)

PAGE_URL = "http://index.test/whl/nightly/cu128/torch/"
TORCH = "torch-2.10.0.dev20261101+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"


def page(*anchors: str) -> str:
    body = "\n".join(anchors)
    return f"<!DOCTYPE html><html><body><h1>Links for torch</h1>\n{body}\n</body></html>\n<!--TIMESTAMP 17-->"


def test_absolute_link_to_a_second_host_keeps_its_encoding_and_unquotes_the_name() -> None:
    href = "https://files.test/whl/nightly/cu128/" + TORCH.replace("+", "%2B")
    parsed = parse_page(page(f'<a href="{href}">{TORCH}</a><br/>'), PAGE_URL)
    (link,) = parsed.links
    assert link.url == href
    assert link.filename == TORCH
    assert link.metadata_url is None
    assert parsed.malformed == ()


def test_host_relative_and_relative_links_resolve_against_the_page() -> None:
    parsed = parse_page(
        page(
            '<a href="/whl/nightly/cpu/a-1.0-py3-none-any.whl">a</a>',
            '<a href="../b-1.0-py3-none-any.whl">b</a>',
        ),
        PAGE_URL,
    )
    assert [link.url for link in parsed.links] == [
        "http://index.test/whl/nightly/cpu/a-1.0-py3-none-any.whl",
        "http://index.test/whl/nightly/cu128/b-1.0-py3-none-any.whl",
    ]


def test_a_hash_fragment_is_dropped_from_the_url() -> None:
    parsed = parse_page(page(f'<a href="{TORCH}#sha256=abc">x</a>'), PAGE_URL)
    assert parsed.links[0].url == PAGE_URL + TORCH


@pytest.mark.parametrize(
    "attrs",
    ['data-dist-info-metadata="sha256=00ff"', 'data-core-metadata="true"', "data-core-metadata"],
)
def test_metadata_attributes_advertise_the_metadata_file(attrs: str) -> None:
    parsed = parse_page(page(f'<a href="{TORCH}" {attrs}>x</a>'), PAGE_URL)
    assert parsed.links[0].metadata_url == PAGE_URL + TORCH + ".metadata"


def test_metadata_marked_false_is_not_advertised() -> None:
    parsed = parse_page(page(f'<a href="{TORCH}" data-core-metadata="false">x</a>'), PAGE_URL)
    assert parsed.links[0].metadata_url is None


def test_anchors_without_a_usable_href_are_reported_not_fatal() -> None:
    parsed = parse_page(page("<a>no href</a>", '<a href="">empty</a>', f'<a href="{TORCH}">ok</a>'), PAGE_URL)
    assert [link.filename for link in parsed.links] == [TORCH]
    assert len(parsed.malformed) == 2


@pytest.mark.parametrize(
    "html", ["", "<html><body><h1>Links for torch</h1></body></html>", "not html at all"]
)
def test_a_page_without_anchors_is_malformed(html: str) -> None:
    with pytest.raises(IndexMalformed, match="empty"):
        parse_page(html, PAGE_URL)


def test_nightly_file_name_fields() -> None:
    name = parse_wheel_name(TORCH)
    assert name is not None
    assert (name.name, name.version, name.local, name.public) == (
        "torch",
        "2.10.0.dev20261101+cu128",
        "cu128",
        "2.10.0.dev20261101",
    )
    assert (name.python_tag, name.abi_tag, name.platform_tag) == ("cp312", "cp312", "manylinux_2_28_x86_64")
    assert name.date == dt.date(2026, 11, 1)


def test_triton_has_no_date_and_compressed_platform_tags() -> None:
    name = parse_wheel_name(
        "pytorch_triton-3.5.0+git1111aaaa-cp312-cp312-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl"
    )
    assert name is not None and name.date is None
    assert normalize(name.name) == "pytorch-triton"
    assert fits_platform(name, "linux_x86_64")


@pytest.mark.parametrize(
    "filename",
    [
        "torch-2.11.0.devXYZ-cp312.whl",
        "torch-notaversion-cp312-cp312-linux_x86_64.whl",
        "torch-2.10.0.tar.gz",
        "README",
    ],
)
def test_not_wheel_names(filename: str) -> None:
    assert parse_wheel_name(filename) is None


def test_an_unescaped_project_name_is_not_a_wheel_name() -> None:
    assert parse_wheel_name("pytorch__triton-3.5.0-cp312-cp312-linux_x86_64.whl") is None


def test_an_impossible_dev_date_is_no_date() -> None:
    name = parse_wheel_name("torch-2.10.0.dev20261399+cu128-cp312-cp312-linux_x86_64.whl")
    assert name is not None and name.date is None


_tag = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_version = st.builds(
    lambda base, day, local: f"{base}.dev{day:%Y%m%d}" + (f"+{local}" if local else ""),
    st.from_regex(r"[1-9]\.[0-9]{1,2}\.[0-9]", fullmatch=True),
    st.dates(dt.date(2020, 1, 1), dt.date(2099, 12, 31)),
    st.sampled_from(["", "cu128", "cu130", "cpu", "rocm6.4"]),
)


@given(
    # PEP 427 project names in file names: runs of "_" are escaped to one, so never "__"
    name=st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z0-9]{1,4}){0,2}", fullmatch=True),
    version=_version,
    py=_tag,
    abi=_tag,
    plat=st.lists(_tag, min_size=1, max_size=3).map(".".join),
)
def test_file_names_round_trip(name: str, version: str, py: str, abi: str, plat: str) -> None:
    filename = f"{name}-{version}-{py}-{abi}-{plat}.whl"
    parsed = parse_wheel_name(filename)
    assert parsed is not None
    assert parsed.filename() == filename
    assert (parsed.name, parsed.version, parsed.platform_tag) == (name, version, plat)
    assert parsed.date is not None and f"{parsed.date:%Y%m%d}" in version


@given(day=st.dates(dt.date(2020, 1, 1), dt.date(2099, 12, 31)))
def test_page_parse_round_trips_percent_encoded_plus(day: dt.date) -> None:
    filename = f"torch-2.10.0.dev{day:%Y%m%d}+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"
    href = "https://files.test/x/" + filename.replace("+", "%2B")
    (link,) = parse_page(page(f'<a href="{href}">{filename}</a>'), PAGE_URL).links
    parsed = parse_wheel_name(link.filename)
    assert parsed is not None and parsed.date == day


@pytest.mark.parametrize(
    ("py", "abi", "python", "fits"),
    [
        ("cp312", "cp312", "3.12", True),
        ("cp312", "cp312", "3.13", False),
        ("cp313", "cp313t", "3.13", False),
        ("cp313", "cp313t", "3.13t", True),
        ("cp313", "cp313", "3.13t", False),
        ("py3", "none", "3.12", True),
        ("cp39", "abi3", "3.9", True),
        ("cp38", "abi3", "3.12", True),  # vLLM's wheels: one stable-ABI build for every CPython 3.8+
        ("cp313", "abi3", "3.12", False),
        ("cp38", "abi3", "3.13t", False),  # free-threaded CPython has no stable ABI
    ],
)
def test_python_fit(py: str, abi: str, python: str, fits: bool) -> None:
    name = parse_wheel_name(f"x-1.0-{py}-{abi}-linux_x86_64.whl")
    assert name is not None
    assert fits_python(name, python) is fits


@pytest.mark.parametrize(
    ("tag", "platform", "fits"),
    [
        ("manylinux_2_28_x86_64", "linux_x86_64", True),
        ("linux_x86_64", "linux_x86_64", True),
        ("manylinux_2_28_aarch64", "linux_x86_64", False),
        ("manylinux_2_28_aarch64", "linux_aarch64", True),
        ("win_amd64", "linux_x86_64", False),
        ("win_amd64", "win_amd64", True),
        ("any", "macosx_11_0_arm64", True),
    ],
)
def test_platform_fit(tag: str, platform: str, fits: bool) -> None:
    name = parse_wheel_name(f"x-1.0-cp312-cp312-{tag}.whl")
    assert name is not None
    assert fits_platform(name, platform) is fits


def test_python_version_forms() -> None:
    assert python_tags("3.12") == ("cp312", False)
    assert python_tags("3.13t") == ("cp313", True)
    with pytest.raises(ValueError, match=r"3\.12"):
        python_tags("py3")

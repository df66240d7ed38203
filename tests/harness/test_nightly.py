"""Resolving nightly specs against fixture pages in the real format, served on loopback.

What the fixture index holds is in tests/resources/nightly/README.md.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vllm_matrix.matrix.specs import parse_torch
from vllm_matrix.nightly import resolve as nightly
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import (
    IndexMalformed,
    IndexNotFound,
    IndexUnavailable,
    NightlyMissing,
    NightlySpecError,
)
from vllm_matrix.nightly.listing import NightlyWheel, list_nightlies
from vllm_matrix.nightly.resolve import resolve_torch

if TYPE_CHECKING:
    from indexserver import IndexServer

# The fixtures ``nightly_hosts`` and ``index_server`` (see indexserver.py).
pytest_plugins = ("indexserver",)

TODAY = dt.date(2026, 11, 10)
Hosts = tuple["IndexServer", "IndexServer"]


def base(hosts: Hosts, tree: str = "whl/nightly") -> str:
    return f"{hosts[0].url}/{tree}"


def client() -> IndexClient:
    return IndexClient(timeout_s=5, retries=0, backoff_s=0)


def resolve(
    hosts: Hosts, spec: str, cuda: str = "cu128", python: str = "3.12", **kw: object
) -> nightly.ResolvedTorch:
    options: dict[str, object] = {"today": TODAY, "client": client(), **kw}
    return resolve_torch(parse_torch(spec), cuda, python, base(hosts), **options)  # type: ignore[arg-type]


def dates(wheels: list[NightlyWheel]) -> list[int]:
    return [w.date.day for w in wheels if w.date]


@pytest.mark.parametrize(
    ("cuda", "days"),
    [
        ("cu128", [1, 2, 4, 5, 6, 7, 9]),
        ("cu129", [1, 3, 4, 5, 6]),
        ("cu130", [5, 6, 7, 8, 9]),
        ("cpu", list(range(1, 10))),
    ],
)
def test_each_variant_lists_its_own_dates_with_gaps(nightly_hosts: Hosts, cuda: str, days: list[int]) -> None:
    listing = list_nightlies(cuda, "3.12", base(nightly_hosts), client=client())
    wheels = listing.nightlies()
    assert dates(wheels) == days
    assert {w.variant for w in wheels} == {cuda}
    assert all(w.version.endswith(f"+{cuda}") and w.python_tag == "cp312" for w in wheels)


def test_latest_is_the_newest_date_present(nightly_hosts: Hosts) -> None:
    torch = resolve(nightly_hosts, "nightly:latest").torch
    assert torch.version == "2.11.0.dev20261109+cu128"
    assert torch.date == dt.date(2026, 11, 9)
    assert torch.filename == "torch-2.11.0.dev20261109+cu128-cp312-cp312-manylinux_2_28_x86_64.whl"


def test_latest_back_counts_dates_present_not_calendar_days(nightly_hosts: Hosts) -> None:
    # cu128 has 09, 07, 06: the 8th is a gap, so latest~1 is the 7th and latest~2 the 6th.
    assert resolve(nightly_hosts, "nightly:latest~1").torch.date == dt.date(2026, 11, 7)
    assert resolve(nightly_hosts, "nightly:latest~2").torch.date == dt.date(2026, 11, 6)


def test_latest_back_beyond_the_oldest_is_missing(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlyMissing, match=r"^cu129 lists 5 nightlies; nightly:latest~5 needs at least 6$"):
        resolve(nightly_hosts, "nightly:latest~5", cuda="cu129")


def test_an_absolute_url_points_at_the_second_host_with_plus_encoded(nightly_hosts: Hosts) -> None:
    _, files = nightly_hosts
    torch = resolve(nightly_hosts, "nightly:2026-11-04").torch
    assert torch.url.startswith(files.url + "/whl/nightly/cu128/")
    assert "%2Bcu128" in torch.url
    assert "+" in torch.filename


def test_host_relative_links_stay_on_the_index_host(nightly_hosts: Hosts) -> None:
    torch = resolve(nightly_hosts, "nightly:2026-11-03", cuda="cpu").torch
    assert torch.url.startswith(nightly_hosts[0].url + "/whl/nightly/cpu/torch-2.10.0.dev20261103%2Bcpu")


def test_a_missing_date_names_the_nearest_dates(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlyMissing) as err:
        resolve(nightly_hosts, "nightly:2026-11-03")
    assert str(err.value) == "cu128 has no nightly for 2026-11-03 (nearest: 2026-11-02, 2026-11-04)"


def test_a_date_newer_than_the_newest_names_only_the_newest(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlyMissing, match=r"has no nightly for 2026-11-10 \(nearest: 2026-11-09\)$"):
        resolve(nightly_hosts, "nightly:2026-11-10")


def test_a_date_older_than_the_index_keeps_says_so(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlyMissing, match=r"\(nearest: 2026-11-01\); the index keeps only about 60 days"):
        resolve(nightly_hosts, "nightly:2026-08-01")


def test_a_future_date_is_bad_input_before_any_request(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlySpecError, match="2026-11-11 is in the future") as err:
        resolve(nightly_hosts, "nightly:2026-11-11")
    assert err.value.exit_code == 2
    assert nightly_hosts[0].requests == []


def test_a_version_bump_day_picks_the_higher_base_version(nightly_hosts: Hosts) -> None:
    listing = list_nightlies("cu128", "3.12", base(nightly_hosts), client=client())
    on_the_5th = [w.version for w in listing.wheels if w.date == dt.date(2026, 11, 5)]
    assert sorted(on_the_5th) == ["2.10.0.dev20261105+cu128", "2.11.0.dev20261105+cu128"]
    resolved = resolve(nightly_hosts, "nightly:2026-11-05")
    assert resolved.torch.version == "2.11.0.dev20261105+cu128"
    assert resolved.torch.base_version == "2.11.0"


def test_free_threaded_wheels_only_when_asked(nightly_hosts: Hosts) -> None:
    gil = resolve(nightly_hosts, "nightly:latest", python="3.13").torch
    assert (gil.python_tag, gil.abi_tag) == ("cp313", "cp313")
    free = resolve(nightly_hosts, "nightly:latest", python="3.13t").torch
    assert (free.python_tag, free.abi_tag) == ("cp313", "cp313t")


def test_platforms_select_their_own_file(nightly_hosts: Hosts) -> None:
    arm = resolve(nightly_hosts, "nightly:latest", platform="linux_aarch64").torch
    assert arm.platform_tag == "manylinux_2_28_aarch64"
    win = resolve(nightly_hosts, "nightly:latest", cuda="cpu", platform="win_amd64").torch
    assert win.platform_tag == "win_amd64" and win.date == dt.date(2026, 11, 9)


def test_no_wheel_for_this_python_is_missing_with_the_page_named(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlyMissing, match=r"cu129 lists no torch nightly for Python 3.9 .*cu129/torch/"):
        resolve(nightly_hosts, "nightly:latest", cuda="cu129", python="3.9")


def test_pinned_triton_comes_from_torch_metadata(nightly_hosts: Hosts) -> None:
    old = resolve(nightly_hosts, "nightly:2026-11-04")
    new = resolve(nightly_hosts, "nightly:2026-11-06")
    assert old.metadata_read and new.metadata_read
    assert old.requirements() == ["torch==2.10.0.dev20261104+cu128", "pytorch-triton==3.5.0+git1111aaaa"]
    # the triton page also has a newer 3.6.0+git9999ffff: the pin wins, not the newest
    assert new.requirements() == ["torch==2.11.0.dev20261106+cu128", "pytorch-triton==3.6.0+git2222bbbb"]
    (triton,) = new.companions
    assert triton.url.startswith(nightly_hosts[1].url) and "%2Bgit2222bbbb-cp312" in triton.url
    assert nightly_hosts[1].hits(
        "torch-2.11.0.dev20261106%2Bcu128-cp312-cp312-manylinux_2_28_x86_64.whl.metadata"
    )


def test_triton_named_triton_on_cu130(nightly_hosts: Hosts) -> None:
    resolved = resolve(nightly_hosts, "nightly:latest", cuda="cu130")
    assert resolved.requirements() == ["torch==2.11.0.dev20261109+cu130", "triton==3.6.0+git3333cccc"]


def test_the_triton_marker_keeps_triton_off_aarch64(nightly_hosts: Hosts) -> None:
    resolved = resolve(nightly_hosts, "nightly:latest", platform="linux_aarch64")
    assert resolved.metadata_read
    assert resolved.companions == ()


def test_a_pinned_triton_absent_from_the_index_is_missing(nightly_hosts: Hosts) -> None:
    # cu130 pins triton on all Linux, but its triton page has x86_64 wheels only
    with pytest.raises(NightlyMissing, match=r"cu130 has no triton==3.6.0\+git3333cccc for .* linux_aarch64"):
        resolve(nightly_hosts, "nightly:latest", cuda="cu130", platform="linux_aarch64")


def test_without_advertised_metadata_no_companions_are_guessed(nightly_hosts: Hosts) -> None:
    resolved = resolve(nightly_hosts, "nightly:2026-11-02")
    assert not resolved.metadata_read and resolved.companions == ()
    assert not any(path.endswith(".metadata") for path in nightly_hosts[1].requests)


def test_cpu_metadata_on_the_index_host_pins_nothing(nightly_hosts: Hosts) -> None:
    resolved = resolve(nightly_hosts, "nightly:latest", cuda="cpu")
    assert resolved.metadata_read and resolved.companions == ()
    assert nightly_hosts[0].hits(".whl.metadata") == 1


def test_torchvision_and_torchaudio_of_the_same_date_only_when_asked(nightly_hosts: Hosts) -> None:
    plain = resolve(nightly_hosts, "nightly:2026-11-06")
    assert not any(c.package in ("torchvision", "torchaudio") for c in plain.companions)
    assert nightly_hosts[0].hits("torchvision/") == 0
    full = resolve(nightly_hosts, "nightly:2026-11-06", with_packages=("torchvision", "torchaudio"))
    assert full.requirements() == [
        "torch==2.11.0.dev20261106+cu128",
        "pytorch-triton==3.6.0+git2222bbbb",
        "torchvision==0.25.0.dev20261106+cu128",
        "torchaudio==2.10.0.dev20261106+cu128",
    ]


def test_a_companion_missing_on_the_torch_date_is_missing(nightly_hosts: Hosts) -> None:
    with pytest.raises(
        NightlyMissing, match=r"^cu128 has no torchvision nightly for 2026-11-09 \(nearest: 2026-11-07\)$"
    ):
        resolve(nightly_hosts, "nightly:latest", with_packages=("torchvision",))


def test_range_resolves_to_the_dates_present(nightly_hosts: Hosts) -> None:
    wheels = nightly.resolve_range(
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 8),
        "cu128",
        "3.12",
        base(nightly_hosts),
        today=TODAY,
        client=client(),
    )
    assert dates(wheels) == [2, 4, 5, 6, 7]


def test_a_reversed_range_is_bad_input(nightly_hosts: Hosts) -> None:
    with pytest.raises(NightlySpecError, match="starts after it ends"):
        nightly.parse_range("nightly:2026-11-05..2026-11-01")
    with pytest.raises(NightlySpecError, match="starts after it ends"):
        nightly.resolve_range(
            dt.date(2026, 11, 5), dt.date(2026, 11, 1), "cu128", "3.12", base(nightly_hosts), today=TODAY
        )
    assert nightly_hosts[0].requests == []


def test_parse_range() -> None:
    assert nightly.parse_range("nightly:2026-11-01..2026-11-03") == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 3),
    )
    with pytest.raises(NightlySpecError, match="expected a date"):
        nightly.parse_range("nightly:2026-11-01..soon")


def test_a_release_spec_resolves_to_the_exact_version(nightly_hosts: Hosts) -> None:
    resolved = resolve(nightly_hosts, "2.10.0.dev20261104", cuda="cu129")
    assert resolved.torch.version == "2.10.0.dev20261104+cu129"


def test_a_404_variant_is_not_found(nightly_hosts: Hosts) -> None:
    with pytest.raises(
        IndexNotFound, match=r"whl/nightly/cu126/torch/ does not exist on the index \(HTTP 404\)"
    ):
        resolve(nightly_hosts, "nightly:latest", cuda="cu126")


def test_the_page_url_keeps_its_trailing_slash(nightly_hosts: Hosts) -> None:
    resolve(nightly_hosts, "nightly:latest", cuda="cu129")
    assert nightly_hosts[0].requests == ["/whl/nightly/cu129/torch/"]


def test_malformed_anchors_are_skipped_and_reported(nightly_hosts: Hosts) -> None:
    listing = list_nightlies("cu128", "3.12", base(nightly_hosts, "malformed"), client=client())
    assert [w.version for w in listing.nightlies()] == ["2.11.0.dev20261105+cu128"]
    assert len(listing.malformed) == 3
    assert any("torch-2.11.0.devXYZ-cp312.whl" in m for m in listing.malformed)


def test_a_page_of_links_that_are_no_wheels_is_malformed(nightly_hosts: Hosts) -> None:
    with pytest.raises(IndexMalformed, match=r"portal/cu128/torch/ has 2 anchors but no wheel file"):
        list_nightlies("cu128", "3.12", base(nightly_hosts, "portal"), client=client())


@pytest.mark.parametrize("tree", ["blank", "empty"])
def test_an_empty_page_is_malformed(nightly_hosts: Hosts, tree: str) -> None:
    with pytest.raises(IndexMalformed, match=rf"{tree}/cu128/torch/ is empty"):
        list_nightlies("cu128", "3.12", base(nightly_hosts, tree), client=client())


def test_a_slow_index_is_unavailable(nightly_hosts: Hosts) -> None:
    nightly_hosts[0].delay_s = 1.0
    slow = IndexClient(timeout_s=0.2, retries=0)
    with pytest.raises(IndexUnavailable, match=r"timed out after 0\.2 s"):
        resolve(nightly_hosts, "nightly:latest", client=slow)


def test_offline_resolution_from_the_cache(nightly_hosts: Hosts, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    online = resolve(nightly_hosts, "nightly:latest", client=IndexClient(cache_dir=cache, retries=0))
    asked = len(nightly_hosts[0].requests) + len(nightly_hosts[1].requests)
    offline = resolve(nightly_hosts, "nightly:latest", client=IndexClient(cache_dir=cache, offline=True))
    assert offline == online
    assert len(nightly_hosts[0].requests) + len(nightly_hosts[1].requests) == asked


def test_to_dict_is_json_ready_and_names_what_ran(nightly_hosts: Hosts) -> None:
    data = json.loads(json.dumps(resolve(nightly_hosts, "nightly:latest~1").to_dict()))
    assert data["spec"] == "nightly:latest~1"
    assert data["install_index"] == f"{nightly_hosts[0].url}/whl/nightly/cu128"
    assert data["torch"]["version"] == "2.11.0.dev20261107+cu128"
    assert data["torch"]["date"] == "2026-11-07"
    assert data["requirements"] == ["torch==2.11.0.dev20261107+cu128", "pytorch-triton==3.6.0+git2222bbbb"]
    assert data["companions"][0]["package"] == "pytorch-triton"


def test_select_is_pure_and_checks_the_future() -> None:
    wheel = NightlyWheel(
        "torch",
        "2.10.0.dev20261101+cpu",
        dt.date(2026, 11, 1),
        "cpu",
        "cp312",
        "cp312",
        "linux_x86_64",
        "f.whl",
        "http://x/f.whl",
    )
    assert nightly.select(parse_torch("nightly:2026-11-01"), [wheel], "cpu", TODAY) == wheel
    with pytest.raises(NightlySpecError):
        nightly.select(parse_torch("nightly:2026-12-01"), [wheel], "cpu", TODAY)
    with pytest.raises(NightlyMissing, match=r"\(it lists none\)"):
        nightly.select(parse_torch("nightly:2026-11-01"), [], "cpu", TODAY)


def test_a_mirror_on_disk_written_by_write_index_page(tmp_path: Path) -> None:
    from indexserver import write_index_page  # after pytest_plugins has imported it (assert rewriting)

    files = tmp_path / "files"
    files.mkdir()
    names = [f"torch-2.12.0.dev2026110{d}+cu128-cp312-cp312-manylinux_2_28_x86_64.whl" for d in (1, 3)]
    for name in names:
        (files / name).write_bytes(b"")
    (files / (names[1] + ".metadata")).write_text("Metadata-Version: 2.4\nName: torch\n", encoding="utf-8")
    write_index_page(
        tmp_path / "index/cu128/torch", [files / n for n in names], base_url=f"file://{files}", metadata=True
    )
    resolved = resolve_torch(
        parse_torch("nightly:latest"), "cu128", "3.12", f"file://{tmp_path}/index", today=TODAY
    )
    assert resolved.torch.version == "2.12.0.dev20261103+cu128"
    assert resolved.torch.url == f"file://{files}/" + names[1].replace("+", "%2B")
    assert resolved.metadata_read and resolved.companions == ()

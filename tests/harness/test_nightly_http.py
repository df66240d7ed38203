"""IndexClient against a real loopback server: timeouts, retries, the TTL cache, offline mode."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from indexserver import IndexServer, serve

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexNotFound, IndexUnavailable, NightlySpecError

PAGE = "cu128/torch/"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[IndexServer]:
    root = tmp_path / "site"
    (root / PAGE).mkdir(parents=True)
    (root / PAGE / "index.html").write_text("<a href='x-1.0-py3-none-any.whl'>x</a>\n", encoding="utf-8")
    with serve(root) as running:
        yield running


class Clock:
    """A clock the test moves by hand, to age cache entries without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def client(**options: object) -> IndexClient:
    defaults: dict[str, object] = {"timeout_s": 2.0, "retries": 0, "backoff_s": 0.0}
    return IndexClient(**{**defaults, **options})  # type: ignore[arg-type]


def test_get_returns_the_page(server: IndexServer) -> None:
    assert "x-1.0-py3-none-any.whl" in client().get(f"{server.url}/{PAGE}")


def test_a_fresh_cache_entry_is_served_without_asking_the_server(server: IndexServer, tmp_path: Path) -> None:
    clock = Clock()
    c = client(cache_dir=tmp_path / "cache", ttl_s=60, clock=clock)
    url = f"{server.url}/{PAGE}"
    c.get(url)
    clock.now += 59
    c.get(url)
    assert server.hits(PAGE) == 1
    clock.now += 2
    c.get(url)
    assert server.hits(PAGE) == 2


def test_the_cache_survives_a_new_client(server: IndexServer, tmp_path: Path) -> None:
    url = f"{server.url}/{PAGE}"
    client(cache_dir=tmp_path / "cache").get(url)
    client(cache_dir=tmp_path / "cache").get(url)
    assert server.hits(PAGE) == 1


def test_without_a_cache_dir_every_get_asks(server: IndexServer) -> None:
    c = client()
    for _ in range(2):
        c.get(f"{server.url}/{PAGE}")
    assert server.hits(PAGE) == 2


def test_offline_reads_a_stale_cache_and_never_the_network(server: IndexServer, tmp_path: Path) -> None:
    clock = Clock()
    url = f"{server.url}/{PAGE}"
    client(cache_dir=tmp_path / "cache", clock=clock).get(url)
    clock.now += 10 * 24 * 3600
    body = client(cache_dir=tmp_path / "cache", clock=clock, offline=True).get(url)
    assert "x-1.0" in body
    assert server.hits(PAGE) == 1


def test_offline_without_a_cache_entry_is_unavailable(server: IndexServer, tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="offline"):
        client(cache_dir=tmp_path / "cache", offline=True).get(f"{server.url}/{PAGE}")
    assert server.requests == []


def test_a_corrupt_cache_entry_is_refetched(server: IndexServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = f"{server.url}/{PAGE}"
    client(cache_dir=cache).get(url)
    (entry,) = cache.iterdir()
    entry.write_text("{not json", encoding="utf-8")
    assert "x-1.0" in client(cache_dir=cache).get(url)
    assert server.hits(PAGE) == 2


def test_404_is_not_found_without_retries(server: IndexServer) -> None:
    with pytest.raises(IndexNotFound, match="HTTP 404"):
        client(retries=3).get(f"{server.url}/cu126/torch/")
    assert server.hits("cu126/torch/") == 1


def test_404_is_not_cached(server: IndexServer, tmp_path: Path) -> None:
    c = client(cache_dir=tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(IndexNotFound):
            c.get(f"{server.url}/cu126/torch/")
    assert server.hits("cu126/torch/") == 2


def test_503_is_retried_with_doubling_backoff(server: IndexServer) -> None:
    server.fail_first = 2
    pauses: list[float] = []
    body = client(retries=3, backoff_s=0.5, sleep=pauses.append).get(f"{server.url}/{PAGE}")
    assert "x-1.0" in body
    assert pauses == [0.5, 1.0]
    assert server.hits(PAGE) == 3


def test_retries_run_out_with_the_last_reason(server: IndexServer) -> None:
    server.fail_first = 10
    with pytest.raises(IndexUnavailable, match=r"HTTP 503.*\(3 attempts\)"):
        client(retries=2, sleep=lambda _: None).get(f"{server.url}/{PAGE}")


def test_a_slow_server_trips_the_timeout(server: IndexServer) -> None:
    server.delay_s = 1.0
    started = time.monotonic()
    with pytest.raises(IndexUnavailable, match=r"timed out after 0.2 s \(2 attempts\)"):
        client(timeout_s=0.2, retries=1).get(f"{server.url}/{PAGE}")
    assert time.monotonic() - started < 1.0


def test_an_unreachable_index_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(IndexUnavailable, match="cannot read"):
        client(retries=1).get(f"http://127.0.0.1:{port}/{PAGE}")


def test_an_unwritable_cache_costs_a_refetch_not_the_answer(server: IndexServer, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    c = client(cache_dir=blocker / "cache")
    for _ in range(2):
        assert "x-1.0" in c.get(f"{server.url}/{PAGE}")
    assert server.hits(PAGE) == 2


def test_a_file_url_reads_a_mirrored_page(tmp_path: Path) -> None:
    (tmp_path / PAGE).mkdir(parents=True)
    (tmp_path / PAGE / "index.html").write_text("<a href='y-1.0-py3-none-any.whl'>y</a>", encoding="utf-8")
    assert "y-1.0" in client().get(f"file://{tmp_path}/{PAGE}")
    with pytest.raises(IndexNotFound):
        client(retries=2).get(f"file://{tmp_path}/cu126/torch/")


@pytest.mark.parametrize("url", ["/opt/wheels/cu128/torch/", "ftp://host/cu128/torch/"])
def test_an_index_that_is_not_a_url_is_bad_input(url: str) -> None:
    with pytest.raises(NightlySpecError, match=r"http\(s\):// or file:// URL"):
        client().get(url)


def test_the_loopback_server_stays_inside_its_root(server: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    for path in ("/../secret.txt", "/%2E%2E/secret.txt", "/cu128/torch"):  # the last lacks its slash
        with pytest.raises(IndexNotFound):
            client().get(server.url + path)

"""Time to parse a nightly index page of 5,000 anchors and resolve 100 specs against it.

Run: ``python3 benchmarks/bench_nightly.py``. Prints figures; asserts nothing.
The page is generated in the real format (absolute links to a second host,
``%2B``, metadata attributes, a TIMESTAMP trailer): 5,000 wheels over about
120 dates x several Pythons and platforms, with gaps and a version bump.
The second figure also serves the page from a loopback HTTP server, to show
what the network path and the on-disk cache add.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from vllm_matrix.matrix.specs import TorchSpec
from vllm_matrix.nightly import resolve as nightly
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import NightlyMissing
from vllm_matrix.nightly.listing import Listing, list_nightlies
from vllm_matrix.nightly.pages import parse_page

ANCHORS = 5000
SPECS = 100
TODAY = dt.date(2026, 11, 30)
FILES = "https://files.example/whl/nightly/cu128"
PAGE_URL = "https://index.example/whl/nightly/cu128/torch/"
COMBOS = [
    (py, abi, plat)
    for py in ("cp310", "cp311", "cp312", "cp313")
    for abi, plat in ((py, "manylinux_2_28_x86_64"), (py, "manylinux_2_28_aarch64"))
] + [("cp313", "cp313t", "manylinux_2_28_x86_64"), ("cp312", "cp312", "win_amd64")]


def make_page(anchors: int = ANCHORS) -> str:
    """A page of ``anchors`` torch wheels in the real index's format."""
    rows: list[str] = []
    day = TODAY
    while len(rows) < anchors:
        if day.day % 7 != 3:  # a gap every week
            base = "2.11.0" if day >= dt.date(2026, 10, 1) else "2.10.0"
            for py, abi, plat in COMBOS:
                name = f"torch-{base}.dev{day:%Y%m%d}+cu128-{py}-{abi}-{plat}.whl"
                meta = ' data-dist-info-metadata="sha256=0f" data-core-metadata="sha256=0f"'
                rows.append(f'    <a href="{FILES}/{quote(name)}"{meta}>{name}</a><br/>')
        day -= dt.timedelta(days=1)
    body = "\n".join(rows[:anchors])
    head = "<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torch</h1>\n"
    return head + f"{body}\n  </body>\n</html>\n<!--TIMESTAMP 1795000000-->\n"


def specs(count: int = SPECS) -> list[TorchSpec]:
    """A mix users write: latest, latest~N, dates (some in gaps, which resolve to NightlyMissing)."""
    out: list[TorchSpec] = []
    for i in range(count):
        if i % 3 == 0:
            out.append(TorchSpec("latest", back=i % 40))
        else:
            out.append(TorchSpec("date", date=TODAY - dt.timedelta(days=i)))
    return out


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``repeat`` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def resolve_all(listing: Listing, todo: list[TorchSpec]) -> tuple[int, int]:
    """Resolve every spec against one listing; count found and missing."""
    wheels = listing.nightlies()
    found = missing = 0
    for spec in todo:
        try:
            nightly.select(spec, wheels, "cu128", TODAY)
            found += 1
        except NightlyMissing:
            missing += 1
    return found, missing


def serve_text(text: str) -> tuple[ThreadingHTTPServer, str]:
    body = text.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/whl/nightly"


def line(label: str, ms: float, note: str = "") -> None:
    print(f"{label:<40} {ms:8.1f} ms" + (f"  ({note})" if note else ""))


def main() -> None:
    html = make_page()
    todo = specs()
    print(f"page: {ANCHORS} anchors, {len(html) / 1e6:.2f} MB; {SPECS} specs")
    line("parse_page (anchors -> links)", timed(lambda: parse_page(html, PAGE_URL)))
    httpd, index = serve_text(html)
    try:
        uncached = IndexClient(retries=0)
        read = lambda c: list_nightlies("cu128", "3.12", index, client=c)  # noqa: E731
        listing = read(uncached)
        line("list_nightlies via loopback HTTP", timed(lambda: read(uncached)))
        with tempfile.TemporaryDirectory() as cache:
            cached = IndexClient(cache_dir=Path(cache), ttl_s=3600)
            read(cached)
            line("list_nightlies from the on-disk cache", timed(lambda: read(cached)))
            total = timed(lambda: resolve_all(read(cached), todo))
    finally:
        httpd.shutdown()
        httpd.server_close()
    found, missing = resolve_all(listing, todo)
    line("per-date view (.nightlies())", timed(listing.nightlies), f"{len(listing.nightlies())} dates")
    line(
        f"resolve {SPECS} specs (select)",
        timed(lambda: resolve_all(listing, todo)),
        f"{found} found, {missing} missing",
    )
    line(f"cached page: parse + resolve {SPECS} specs", total)


if __name__ == "__main__":
    main()

"""A real HTTP server on loopback standing in for the PyTorch nightly index (and its file host).

It serves a directory tree: ``/a/b/`` answers ``a/b/index.html``, ``/a/b.whl``
answers that file, anything else is 404. Paths are percent-decoded, so
``torch-2.10.0.dev20261101%2Bcu128-...whl`` finds the file with a ``+``.
Text files (``.html``, ``.metadata``, ``.json``) get ``substitutions``
applied, which is how a page links to a second server whose port is only
known at run time (write ``@FILES@`` in the page). ``delay_s`` pauses every
answer (to trip a client's timeout), ``fail_first`` answers the first n
requests with 503 (to exercise retries), and ``requests`` records each path.

Plain use::

    with serve(root) as server:            # server.url == "http://127.0.0.1:PORT"
        ...
    with serve_pair(index_root, files_root) as (index, files):
        ...                                # index pages' @FILES@ -> files.url

In pytest, import the fixtures into a test module (or a conftest.py)::

    from indexserver import index_server, nightly_hosts  # noqa: F401

``index_server(root, **options)`` starts a server that stops after the test;
``nightly_hosts`` serves tests/resources/nightly (see its README.md).
``write_index_page`` writes a page in the real format for wheel files you
have, e.g. real wheels a runner test installs from.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

RESOURCES = Path(__file__).resolve().parent.parent / "resources" / "nightly"
FILES_MARK = "@FILES@"
_TEXT_SUFFIXES = (".html", ".metadata", ".json", ".txt")


@dataclass
class IndexServer:
    """A running loopback server; change ``delay_s`` or ``fail_first`` at any time."""

    root: Path
    url: str = ""
    delay_s: float = 0.0
    fail_first: int = 0
    substitutions: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hits(self, suffix: str) -> int:
        """How many requests asked for a path ending in ``suffix``."""
        return sum(1 for path in self.requests if path.endswith(suffix))

    def answer(self, raw_path: str) -> tuple[int, bytes, str]:
        """Status, body and content type for one GET."""
        with self._lock:
            self.requests.append(raw_path)
            failing = self.fail_first > 0
            self.fail_first -= 1 if failing else 0
        if self.delay_s:
            time.sleep(self.delay_s)
        if failing:
            return HTTPStatus.SERVICE_UNAVAILABLE, b"try again later\n", "text/plain"
        path = self._file(unquote(urlsplit(raw_path).path))
        if path is None:
            return HTTPStatus.NOT_FOUND, b"404 Not Found\n", "text/plain"
        return HTTPStatus.OK, self._body(path), _content_type(path)

    def _file(self, url_path: str) -> Path | None:
        target = self.root / url_path.lstrip("/")
        if url_path.endswith("/"):
            target = target / "index.html"
        try:
            target = target.resolve()
            target.relative_to(self.root.resolve())
        except (OSError, ValueError):
            return None
        return target if target.is_file() else None

    def _body(self, path: Path) -> bytes:
        data = path.read_bytes()
        if path.suffix in _TEXT_SUFFIXES and self.substitutions:
            text = data.decode("utf-8")
            for mark, value in self.substitutions.items():
                text = text.replace(mark, value)
            data = text.encode("utf-8")
        return data


def _content_type(path: Path) -> str:
    if path.suffix == ".html":
        return "text/html; charset=utf-8"
    if path.suffix == ".json":
        return "application/json"
    if path.suffix in _TEXT_SUFFIXES:
        return "text/plain; charset=utf-8"
    return "application/octet-stream"


def _handler(server: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            """What a file host answers before a range request (uv asks it of wheels without metadata)."""
            self._answer(with_body=False)

        def _answer(self, with_body: bool) -> None:
            status, body, ctype = server.answer(self.path)
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: ``server.requests`` records what was asked."""

    return Handler


@contextmanager
def serve(
    root: Path, *, delay_s: float = 0.0, fail_first: int = 0, substitutions: dict[str, str] | None = None
) -> Iterator[IndexServer]:
    """Serve ``root`` on 127.0.0.1 at a free port until the block ends."""
    state = IndexServer(Path(root), delay_s=delay_s, fail_first=fail_first)
    state.substitutions.update(substitutions or {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), name="indexserver", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def serve_pair(index_root: Path, files_root: Path) -> Iterator[tuple[IndexServer, IndexServer]]:
    """An index host and a second "file" host; ``@FILES@`` in index pages becomes the file host's URL."""
    with serve(files_root) as files, serve(index_root, substitutions={FILES_MARK: files.url}) as index:
        yield index, files


def write_index_page(
    directory: Path, files: Iterable[Path | str], *, base_url: str, metadata: bool = False
) -> Path:
    """Write ``directory/index.html`` listing ``files`` as the real nightly index does.

    Hrefs are ``base_url/<name>`` with ``+`` written ``%2B`` and no hash
    fragment; with ``metadata=True`` each anchor advertises a ``.whl.metadata``
    (``data-dist-info-metadata`` and ``data-core-metadata``) hashed from the
    ``<file>.metadata`` next to it when it exists.
    """
    directory.mkdir(parents=True, exist_ok=True)
    anchors = [_anchor(Path(f), base_url, metadata) for f in sorted(files, key=lambda f: Path(f).name)]
    page = directory / "index.html"
    page.write_text(render_page(directory.name, anchors), encoding="utf-8")
    return page


def _anchor(path: Path, base_url: str, metadata: bool) -> str:
    href = f"{base_url.rstrip('/')}/{quote(path.name)}"
    attrs = ""
    if metadata:
        meta = path.with_name(path.name + ".metadata")
        value = f"sha256={hashlib.sha256(meta.read_bytes()).hexdigest()}" if meta.is_file() else "true"
        attrs = f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
    return f'<a href="{href}"{attrs}>{path.name}</a><br/>'


def render_page(package: str, anchors: Iterable[str], timestamp: int = 1795000000) -> str:
    """A PEP 503 page in the index's layout, ending in its ``<!--TIMESTAMP n-->`` trailer."""
    body = "\n".join(f"    {a}" for a in anchors)
    return (
        "<!DOCTYPE html>\n<html>\n  <body>\n"
        f"    <h1>Links for {package}</h1>\n{body}\n  </body>\n</html>\n<!--TIMESTAMP {timestamp}-->\n"
    )


@pytest.fixture
def index_server() -> Iterator[Callable[..., IndexServer]]:
    """Factory: ``index_server(root, delay_s=..., substitutions=...)``; all stop after the test."""
    with ExitStack() as stack:

        def start(root: Path, **options: object) -> IndexServer:
            return stack.enter_context(serve(root, **options))  # type: ignore[arg-type]

        yield start


@pytest.fixture
def nightly_hosts() -> Iterator[tuple[IndexServer, IndexServer]]:
    """tests/resources/nightly served as an index host plus its second file host."""
    with serve_pair(RESOURCES / "index", RESOURCES / "files") as pair:
        yield pair

"""The static site: pages per cell, escaping of everything from logs and tests, nothing from the network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reportruns import BREAKS, FLIPS, PASSES, SCRIPT, SHARES, three_nights, v1_run

from vllm_matrix.report import build, inputs, past, site


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    runs = three_nights(root / "reports", root / "w")
    previous = root / "n1-site"
    build.build(inputs.load([runs[0]]), [], previous)
    target = root / "site"
    build.build(inputs.load([runs[1], v1_run(root / "reports")]), past.from_previous(previous, []), target)
    return target


def test_the_site_has_the_matrix_a_page_per_cell_and_the_downloads(out: Path) -> None:
    names = {p.name for p in out.iterdir()}
    assert names >= {
        "index.html",
        "report.md",
        "report.json",
        "junit.xml",
        "matrix.svg",
        "matrix.png",
        "cells",
        "logs",
        "assets",
    }
    pages = {p.name for p in (out / "cells").glob("*.html")}
    assert pages == {f"{c}.html" for c in (PASSES, BREAKS, FLIPS, SHARES, "b200", "cpu_reference")}
    index = (out / "index.html").read_text()
    assert f'href="cells/{BREAKS}.html"' in index
    assert "NVIDIA GeForce RTX 5090 (sm_120, driver 580.95.05)" in index and "gpu-runner-7" in index


def test_a_failure_message_with_a_script_tag_renders_as_text(out: Path) -> None:
    page = (out / "cells" / f"{FLIPS}.html").read_text()
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in page
    assert "test_greedy_matches_hf" in page
    for html in [out / "index.html", *(out / "cells").glob("*.html")]:
        assert re.findall(r"<script[^>]*>", html.read_text()) in ([], ['<script src="assets/report.js">']), (
            html
        )


def test_nothing_is_fetched_from_the_network(out: Path) -> None:
    for html in [out / "index.html", *(out / "cells").glob("*.html")]:
        text = html.read_text()
        fetched = re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="([^"]+)"', text)
        assert all(not re.match(r"[a-z]+:", url) and not url.startswith("//") for url in fetched), (
            html,
            fetched,
        )
    assert "@import" not in (out / "assets" / "style.css").read_text()


def test_the_cell_page_shows_timeline_versions_audit_context_tail_logs_and_figures(out: Path) -> None:
    failed = (out / "cells" / f"{BREAKS}.html").read_text()
    for section in ('id="timeline"', 'id="versions"', 'id="log"', 'id="logs"'):
        assert section in failed, section
    assert "broken since nightly 2026-11-28 (first seen in run n2)" in failed and "newly broken" in failed
    assert re.search(r'<span class="decisive"><span class="ln">\d+</span>\s*nvcc fatal', failed)
    assert f'href="../logs/{BREAKS}.build.log"' in failed
    assert (out / "logs" / f"{BREAKS}.build.log").read_text().count("compute_120") >= 1
    passed = (out / "cells" / f"{PASSES}.html").read_text()
    assert 'id="figures"' in passed and "decode tokens/s" in passed and "1620.0" in passed
    assert (
        "2.11.0.dev20261128+cu130" in passed
        and "https://github.com/pytorch/pytorch/commit/cf30153c" in passed
    )
    assert 'id="audit"' in passed and "vllm/_C.abi3.so" in passed, "the arch audit with its extensions"
    reused = (out / "cells" / f"{SHARES}.html").read_text()
    assert "same build as cell" in reused


def test_the_v1_cell_shows_its_real_figures_and_log_tail(out: Path) -> None:
    page = (out / "cells" / "cpu_reference.html").read_text()
    assert "3832.5" in page and "933888" in page and "engine start, cold (s)" in page
    assert "16 passed, 14 skipped" in page, "the suites log's tail"


def test_breakable_escapes_before_it_adds_break_points() -> None:
    assert str(site.breakable("<b>A_B</b>")) == "&lt;b&gt;A_<wbr>B&lt;/b&gt;"

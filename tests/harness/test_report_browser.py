"""The site in a real browser: Debian's chromium, headless, driven by Playwright, from file://.

Filters change what is shown, a cell page opens from the grid, no console
errors, nothing requested from the network, a `<script>` in a failure message
stays text. Screenshots are saved under reports/test-output/browser/ (or
$VLLM_MATRIX_TEST_OUTPUT) for a person to look at. ``nox -s tests`` installs
chromium with apt-get when it is missing and it runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reportruns import BREAKS, FLIPS, PASSES, SCRIPT, three_nights, v1_run

from vllm_matrix.report import build, inputs, past
from vllm_matrix.results import CachedFrom, CellResult, RunStore

ROOT = Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags chromium floods a closed network with requests.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

playwright = pytest.importorskip(
    "playwright.sync_api", reason="needs the Python playwright driver: pip install -e '.[test]'"
)
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"needs Debian's chromium at {CHROMIUM}: apt-get install -y chromium "
    "(nox -s tests installs it when run as root on a machine with apt-get)",
)


def output_dir() -> Path:
    target = Path(os.environ.get("VLLM_MATRIX_TEST_OUTPUT") or ROOT / "reports" / "test-output") / "browser"
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third night with two earlier ones as history, the real v1 CPU cell, and bad inputs."""
    root = tmp_path_factory.mktemp("browser")
    runs = three_nights(root / "reports", root / "w")
    store = RunStore(runs[2])
    store.write_result(
        CellResult(
            id="fa4_sm120_na",
            run="n3",
            outcome="n/a",
            message="vLLM picks FA4 only on SM 10.x (B200/GB200); sm_120 always gets FA2",
            cell={
                "cuda": "cu130",
                "arch": "12.0",
                "flash_attn": 4,
                "vllm": "git:main",
                "gpu": "sm_120",
                "torch": "nightly:latest",
            },
        )
    )
    repeated = store.read_result(PASSES)
    assert repeated is not None
    fat = "latest_cu130_sm100_120_fa2_main_bf16"  # the fat Blackwell build: same inputs as in n2
    repeated.id, repeated.cell = fat, repeated.cell | {"id": fat, "arch": "10.0;12.0"}
    repeated.cached_from = CachedFrom("n2", fat)
    repeated.stages, repeated.log = [], None  # a cached verdict runs no stage
    store.write_result(repeated)
    plan = root / "plan.json"
    plan.write_text(
        json.dumps(
            [
                {
                    "id": "lost_artifact",
                    "cuda": "cu126",
                    "arch": "12.0",
                    "flash_attn": 2,
                    "vllm": "git:main",
                    "gpu": "sm_120",
                    "torch": "nightly:latest",
                }
            ]
        )
    )
    previous = root / "n2-site"
    build.build(
        inputs.load([runs[1]]), past.from_reports_dir(root / "reports", [runs[1]], "2026-11-28T06"), previous
    )
    out = root / "site"
    loaded = inputs.load([runs[2], v1_run(root / "reports")], plan=plan)
    build.build(loaded, past.from_previous(previous, []), out)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=FLAGS, viewport={"width": 800, "height": 900}
        )
        yield context
        context.close()


class Watched:
    """A page whose console errors, page errors, dialogs and non-file requests are recorded."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.network: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.network.append(route.request.url)
            route.abort()

    def visible(self, selector: str) -> int:
        return int(self.page.locator(f"{selector}:visible").count())


def test_filters_change_what_is_shown(site: Path, browser: Any) -> None:
    w = Watched(browser)
    w.page.goto((site / "index.html").as_uri())
    total = w.visible("#grid a.chip")
    assert total == 9 and w.page.locator("#shown").inner_text() == f"showing {total} of {total} cells"
    w.page.select_option('select[data-axis="cuda"]', "cu132")
    assert w.visible("#grid a.chip") == 2 and w.visible("#grid tbody tr.cfg") == 2
    assert w.page.locator("#shown").inner_text() == f"showing 2 of {total} cells"
    assert w.visible('#grid th.col[data-col="2.13.0+cpu"]') == 0, "an emptied column is hidden"
    w.page.select_option('select[data-axis="cuda"]', "")
    w.page.uncheck('input[data-outcome="pass"]')
    shown = w.page.locator("#grid a.chip:visible")
    marks = [shown.nth(i).get_attribute("data-marks") or "" for i in range(shown.count())]
    assert marks and all("pass" not in m.split() for m in marks), "a cached or flaky pass is a pass too"
    assert w.visible('#grid a.chip[data-marks~="fail"]') == 2
    w.page.check('input[data-outcome="pass"]')
    w.page.uncheck('input[data-outcome="fail"]')
    assert w.visible(f'#grid a.chip[data-cell="{BREAKS}"]') == 0
    w.page.check('input[data-outcome="fail"]')
    assert w.visible("#grid a.chip") == total
    w.page.screenshot(path=str(output_dir() / "matrix.png"), full_page=True)
    assert (w.errors, w.network, w.dialogs) == ([], [], [])


def test_a_cell_page_opens_from_the_grid(site: Path, browser: Any) -> None:
    w = Watched(browser)
    w.page.goto((site / "index.html").as_uri())
    w.page.click(f'#grid a.chip[data-cell="{BREAKS}"]')
    w.page.wait_for_load_state()
    assert w.page.url.endswith(f"/cells/{BREAKS}.html")
    assert BREAKS in w.page.locator("h1").inner_text()
    assert "compute_120" in w.page.locator("#decisive").inner_text()
    assert "broken since nightly 2026-11-28 (first seen in run n2)" in w.page.locator("#verdict").inner_text()
    w.page.screenshot(path=str(output_dir() / "cell.png"), full_page=True)
    w.page.click("text=build.log")
    assert "Unsupported gpu architecture" in w.page.locator("body").inner_text(), "the full log is linked"
    assert (w.errors, w.network, w.dialogs) == ([], [], [])


def test_a_script_in_a_failure_message_is_text(site: Path, browser: Any) -> None:
    w = Watched(browser)
    w.page.goto((site.parent / "n2-site" / "cells" / f"{FLIPS}.html").as_uri())  # it failed on n2
    w.page.click("#failing-tests summary")
    assert SCRIPT in w.page.locator("#failing-tests").inner_text()
    assert w.page.locator("#failing-tests script").count() == 0
    assert (w.errors, w.network, w.dialogs) == ([], [], [])

"""Prebuilt vLLM over the cell's nightly torch, through the real stages and real uv, on loopback indexes.

The vLLM wheels pin a torch no index has (``torch==2.99.0``, as a release wheel pins its
release): without the override the install could not resolve, and with a pin that did
resolve it would replace the cell's nightly. The fixtures are small real wheels
(``fakewheel``) in the layouts of the PyTorch nightly index and of wheels.vllm.ai.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakewheel import fake_torch, fake_vllm
from indexserver import serve, serve_pair, write_index_page
from vllmwheels import write_commit_index

from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.results import CellResult, RunStore
from vllm_matrix.runner import Runner
from vllm_matrix.stages import uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.workdir import Workdir

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
SHA = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
TORCH = "2.14.0.dev20261130+cpu"
DEV_VLLM = "0.34.0.dev20261130+cpu"
COMMIT_VLLM = f"0.34.0.dev7+g{SHA[:9]}.cpu"
PIN = "torch==2.99.0"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("overnightly")
    files = root / "files" / "whl"
    torch = fake_torch(files, TORCH, git_version="feedface" * 5)
    dev = fake_vllm(files, DEV_VLLM, pins=[PIN])
    write_index_page(root / "index" / "whl" / "nightly" / "cpu" / "torch", [torch], base_url="@FILES@/whl")
    write_index_page(root / "index" / "whl" / "nightly" / "cpu" / "vllm", [dev], base_url="@FILES@/whl")
    commit = fake_vllm(root / "built", COMMIT_VLLM, pins=[PIN])
    write_commit_index(root / "vllm-wheels", SHA, {"cpu": [commit]}, nightly=True)
    (root / "pypi").mkdir()
    # an empty "PyPI" too: nothing here comes from the internet
    with (
        serve_pair(root / "index", root / "files") as (index, _),
        serve(root / "vllm-wheels") as wheels,
        serve(root / "pypi") as pypi,
    ):
        yield {
            "VLLM_MATRIX_INDEX_NIGHTLY": f"{index.url}/whl/nightly",
            "VLLM_MATRIX_INDEX_VLLM_WHEELS": wheels.url,
            "VLLM_MATRIX_INDEX_PYPI": f"{pypi.url}/simple",
        }


def no_suites(ctx: StageContext) -> None:
    """The payload needs a real vLLM; this test is about what gets installed over which torch."""


def run(tmp_path: Path, hosts: dict[str, str], vllm: str) -> CellResult:
    cell = Cell("c", python=PY, torch="nightly:2026-11-30", cuda="cpu", arch="", vllm=vllm, gpu="cpu")
    work = Workdir(tmp_path / "work", uv_cache=tmp_path / "uv")
    environ = {"PATH": f"/usr/bin:/bin:{Path(sys.executable).parent}", **hosts}
    config = MatrixConfig(path=tmp_path / "matrix.toml", axes={})
    runner = Runner(config, RunStore(tmp_path / "reports" / "r"), work, Hardware(), environ=environ,
                    stages={"suites": no_suites})  # fmt: skip
    return runner.run_cell(cell)


def installed(result: CellResult) -> dict[str, str]:
    python = Path(str(result.facts.venv)) / "bin" / "python"
    out = subprocess.run([uv.uv_exe(), "pip", "list", "--python", str(python), "--format", "json"],
                         capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return {p["name"]: p["version"] for p in json.loads(out.stdout)}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("vllm", "version"),
    [
        (f"vllm-commit:{SHA}", COMMIT_VLLM),
        ("vllm-commit:nightly", COMMIT_VLLM),
        ("nightly-vllm:2026-11-30", DEV_VLLM),
    ],
)
def test_the_prebuilt_wheel_goes_over_the_cells_nightly_and_torch_stays(
    tmp_path: Path, hosts: dict[str, str], vllm: str, version: str
) -> None:
    result = run(tmp_path, hosts, vllm)
    assert result.outcome == "pass", (result.stage, result.message, result.evidence)
    assert [s.name for s in result.stages] == ["resolve", "venv", "torch", "source", "verify", "suites"]
    facts = result.facts
    assert facts.torch_version == TORCH and facts.torch_git_version == "feedface" * 5
    assert facts.vllm is not None and facts.vllm.version == version and facts.vllm_version == version
    assert installed(result) == {"torch": TORCH, "vllm": version}
    overrides = (tmp_path / "reports" / "r" / "cells" / "c" / "overrides.txt").read_text()
    assert f"torch=={TORCH}" in overrides.splitlines()
    assert (
        f"over torch {TORCH}"
        in (tmp_path / "reports" / "r" / "cells" / "c" / "logs" / "source.log").read_text()
    )


@pytest.mark.slow
def test_a_variant_the_commit_lacks_is_a_skip(tmp_path: Path, hosts: dict[str, str]) -> None:
    result = run(tmp_path, hosts, "vllm-commit:1234567")
    assert (result.outcome, result.stage) == ("skip", "resolve")
    assert "has no wheels for vLLM commit 1234567" in str(result.message)


def test_an_unreachable_wheel_index_is_network_fetch(tmp_path: Path, hosts: dict[str, str]) -> None:
    result = run(
        tmp_path, {**hosts, "VLLM_MATRIX_INDEX_VLLM_WHEELS": "http://127.0.0.1:9"}, "vllm-commit:nightly"
    )
    assert (result.outcome, result.stage, result.klass) == ("fail", "resolve", "NETWORK_FETCH")

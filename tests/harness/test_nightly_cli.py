"""``vllm-matrix nightlies``: output, index selection and one exit code per outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vllm_matrix.cli import main

if TYPE_CHECKING:
    from indexserver import IndexServer

pytest_plugins = ("indexserver",)

Hosts = tuple["IndexServer", "IndexServer"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ./matrix.toml, no index override, a private page cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VLLM_MATRIX_INDEX_NIGHTLY", raising=False)
    monkeypatch.delenv("VLLM_MATRIX_FILE", raising=False)


def run(
    capsys: pytest.CaptureFixture[str], hosts: Hosts | None, *args: str, tree: str = "whl/nightly"
) -> tuple[int, str, str]:
    argv = ["nightlies", "--cache-dir", "cache", "--retries", "0", *args]
    if hosts is not None:
        argv += ["--index", f"{hosts[0].url}/{tree}"]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_lists_dates_with_exact_versions_and_urls(
    capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts
) -> None:
    code, out, err = run(capsys, nightly_hosts, "--cuda", "cu128", "--python", "3.12")
    assert (code, err) == (0, "")
    rows = out.splitlines()
    assert [r.split()[0] for r in rows[:-1]] == [f"2026-11-0{d}" for d in (1, 2, 4, 5, 6, 7, 9)]
    assert rows[3].split()[1] == "2.11.0.dev20261105+cu128"
    assert rows[3].split()[2].startswith(nightly_hosts[1].url)
    assert rows[-1].startswith("7 nightlies for cu128, Python 3.12, linux_x86_64")


def test_json_listing(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, out, _ = run(capsys, nightly_hosts, "--cuda", "cu129", "--json")
    data = json.loads(out)
    assert code == 0
    assert [w["date"] for w in data["nightlies"]] == [
        "2026-11-01",
        "2026-11-03",
        "2026-11-04",
        "2026-11-05",
        "2026-11-06",
    ]
    assert data["page_url"].endswith("/whl/nightly/cu129/torch/")


def test_one_spec_resolves_with_companions(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, out, _ = run(
        capsys, nightly_hosts, "--cuda", "cu128", "--torch", "nightly:2026-11-06", "--with", "torchvision"
    )
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "torch==2.11.0.dev20261106+cu128",
        "pytorch-triton==3.6.0+git2222bbbb",
        "torchvision==0.25.0.dev20261106+cu128",
    ]


def test_one_spec_as_json(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, out, _ = run(capsys, nightly_hosts, "--cuda", "cu130", "--torch", "nightly:latest~1", "--json")
    assert code == 0
    assert json.loads(out)["requirements"] == ["torch==2.11.0.dev20261108+cu130", "triton==3.6.0+git3333cccc"]


def test_a_range_lists_the_dates_present(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, out, _ = run(capsys, nightly_hosts, "--cuda", "cu128", "--torch", "nightly:2026-11-03..2026-11-06")
    assert code == 0
    assert [r.split()[0] for r in out.splitlines()[:-1]] == ["2026-11-04", "2026-11-05", "2026-11-06"]


def test_missing_nightly_exit_6_names_the_nearest(
    capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts
) -> None:
    code, out, err = run(capsys, nightly_hosts, "--cuda", "cu128", "--torch", "nightly:2026-11-03")
    assert (code, out) == (6, "")
    assert err == "vllm-matrix: cu128 has no nightly for 2026-11-03 (nearest: 2026-11-02, 2026-11-04)\n"


def test_empty_range_exit_6(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, _, err = run(capsys, nightly_hosts, "--cuda", "cu130", "--torch", "nightly:2026-11-01..2026-11-04")
    assert code == 6 and "no nightly between 2026-11-01 and 2026-11-04" in err


def test_404_variant_exit_4(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, _, err = run(capsys, nightly_hosts, "--cuda", "cu126")
    assert code == 4 and "HTTP 404" in err and err.count("\n") == 1


def test_slow_index_exit_4(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    nightly_hosts[0].delay_s = 1.0
    code, _, err = run(capsys, nightly_hosts, "--cuda", "cu128", "--timeout", "0.2")
    assert code == 4 and "timed out" in err


@pytest.mark.parametrize("tree", ["empty", "blank", "portal"])
def test_malformed_page_exit_5(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts, tree: str) -> None:
    code, _, err = run(capsys, nightly_hosts, "--cuda", "cu128", tree=tree)
    assert code == 5 and err.startswith(f"vllm-matrix: index page {nightly_hosts[0].url}/{tree}/cu128/torch/")


def test_malformed_anchors_warn_but_list(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, out, err = run(capsys, nightly_hosts, "--cuda", "cu128", tree="malformed")
    assert code == 0 and out.startswith("2026-11-05  2.11.0.dev20261105+cu128")
    assert "warning" in err and "skipped 3 malformed anchors" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--cuda", "cu128", "--torch", "nightly:2099-01-01"), "is in the future"),
        (("--cuda", "cu128", "--torch", "nightly:2026-11-05..2026-11-01"), "starts after it ends"),
        (("--cuda", "cu128", "--torch", "nightly:tomorrow"), "expected nightly:latest"),
        (("--cuda", "cu12/../x"), "CUDA variant"),
        (("--cuda", "cu128", "--python", "python3"), "Python version"),
        (("--cuda", "cu128", "--with", "torchvision"), "--with needs a single --torch spec"),
        (("--cuda", "cu128", "--timeout", "0"), "--timeout must be positive"),
    ],
)
def test_bad_input_exit_2_before_any_request(
    capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts, args: tuple[str, ...], says: str
) -> None:
    code, _, err = run(capsys, nightly_hosts, *args)
    assert code == 2 and says in err and err.count("\n") == 1
    assert nightly_hosts[0].requests == []


def test_the_environment_variable_names_the_index(
    capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLLM_MATRIX_INDEX_NIGHTLY", f"{nightly_hosts[0].url}/whl/nightly")
    code, out, _ = run(capsys, None, "--cuda", "cpu")
    assert code == 0 and out.splitlines()[-1].startswith("9 nightlies for cpu")


def test_the_matrix_file_names_the_index_and_the_env_overrides_it(
    capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = nightly_hosts[0].url
    (tmp_path / "matrix.toml").write_text(
        f'[indexes]\nnightly = "{url}/whl/nightly"\n\n[matrix]\ntorch = ["nightly:latest"]\n'
        'cuda = ["cu128"]\nvllm = ["git:main"]\ngpu = ["sm_120"]\n',
        encoding="utf-8",
    )
    code, out, _ = run(capsys, None, "--cuda", "cu129")
    assert code == 0 and f"({url}/whl/nightly)" in out
    monkeypatch.setenv("VLLM_MATRIX_INDEX_NIGHTLY", f"{url}/empty")
    code, _, err = run(capsys, None, "--cuda", "cu128")
    assert code == 5 and "/empty/cu128/torch/" in err


def test_offline_uses_the_cache_only(capsys: pytest.CaptureFixture[str], nightly_hosts: Hosts) -> None:
    code, _, err = run(capsys, nightly_hosts, "--cuda", "cu128", "--offline")
    assert code == 4 and "offline" in err and nightly_hosts[0].requests == []
    online = run(capsys, nightly_hosts, "--cuda", "cu128", "--torch", "nightly:latest")
    asked = len(nightly_hosts[0].requests)
    offline = run(capsys, nightly_hosts, "--cuda", "cu128", "--torch", "nightly:latest", "--offline")
    assert offline == online and online[0] == 0
    assert len(nightly_hosts[0].requests) == asked


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["nightlies", "--help"])
    out = capsys.readouterr().out
    for line in ("2  bad input", "4  index unavailable", "5  index malformed", "6  nightly missing"):
        assert line in out

"""stages.sdist_source through the runner: each bad sdist is one line, its own class, and a recorded cell.

Real resolve, venv and source stages (torch is a stand-in process: nothing here needs it), a
find-links directory or a file as the sdist's origin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sdistfiles import make_sdist
from test_runner import Stages, make_cells, runner
from test_sdist import big_sdist

from vllm_matrix.results import CellResult, RunStore


def run_one(tmp_path: Path, vllm: str, **env: str) -> CellResult:
    cfg, cells = make_cells(tmp_path, f'id = "s"\nvllm = "{vllm}"')
    fake = Stages()
    run = runner(tmp_path, cfg, fake.mapping("torch", "prepare", "build", "verify", "suites"))
    run.environ = {**run.environ, "VLLM_MATRIX_MIN_FREE_GB": "0", **env}  # nothing here is built
    (result,) = run.run(cells)
    assert RunStore(tmp_path / "reports" / "r1").read_result("s") == result  # written, not only returned
    return result


def statuses(result: CellResult) -> list[tuple[str, str]]:
    return [(s.name, s.status) for s in result.stages]


def test_an_sdist_the_index_does_not_have(tmp_path: Path) -> None:
    index = tmp_path / "index"
    make_sdist(index, {"CMakeLists.txt": ""}, version="0.32.0")
    result = run_one(tmp_path, "sdist:vllm==9.9.9", VLLM_MATRIX_INDEX_PYPI=str(index))
    assert (result.outcome, result.stage, result.klass) == ("fail", "resolve", "SDIST_MISSING")
    assert result.message == f"no sdist of vllm==9.9.9 on {index} (newest there: 0.32.0)"
    assert result.evidence == [result.message]
    assert statuses(result) == [("resolve", "fail")]


def test_a_truncated_sdist_fails_at_source_after_what_came_before(tmp_path: Path) -> None:
    full = big_sdist(tmp_path)
    cut = tmp_path / "cut" / "vllm-0.1.0.tar.gz"
    cut.parent.mkdir()
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    result = run_one(tmp_path, f"sdist:{cut}")
    assert (result.outcome, result.stage, result.klass) == ("fail", "source", "SDIST_CORRUPT")
    assert result.message == (
        f"{cut} cannot be unpacked (corrupt or truncated): "
        "Compressed file ended before the end-of-stream marker was reached"
    )
    assert statuses(result) == [("resolve", "pass"), ("venv", "pass"), ("torch", "pass"), ("source", "fail")]
    assert result.facts.vllm is not None and result.facts.vllm.version == "0.1.0"  # resolve's facts are kept
    cell_dir = tmp_path / "reports" / "r1" / "cells" / "s"
    assert (cell_dir / "logs" / "venv.log").is_file() and (cell_dir / "junit.xml").is_file()


def test_a_file_that_is_no_archive_fails_at_resolve(tmp_path: Path) -> None:
    junk = tmp_path / "vllm-0.32.0.tar.gz"
    junk.write_bytes(b"<html>502 Bad Gateway</html>")
    result = run_one(tmp_path, f"sdist:{junk}")
    assert (result.outcome, result.stage, result.klass) == ("fail", "resolve", "SDIST_CORRUPT")
    assert result.message and result.message.startswith(f"{junk} is not a readable sdist: ")


def test_an_sdist_without_cmakelists_is_not_a_buildable_tree(tmp_path: Path) -> None:
    archive = make_sdist(tmp_path / "dist", {"setup.py": "", "vllm/__init__.py": ""}, version="0.0.1")
    result = run_one(tmp_path, f"sdist:{archive}")
    assert (result.outcome, result.stage, result.klass) == ("fail", "source", "SOURCE_INCOMPLETE")
    assert (
        result.message
        == "the sdist vllm-0.0.1.tar.gz has no CMakeLists.txt: not a vLLM source tree that builds"
    )
    assert statuses(result)[-1] == ("source", "fail")


def test_a_file_that_does_not_exist(tmp_path: Path) -> None:
    result = run_one(tmp_path, f"sdist:{tmp_path / 'nowhere' / 'vllm-0.32.0.tar.gz'}")
    assert (result.outcome, result.stage, result.klass) == ("fail", "resolve", "SDIST_MISSING")
    assert result.message == f"sdist file {tmp_path / 'nowhere' / 'vllm-0.32.0.tar.gz'} does not exist"


def test_a_good_sdist_is_unpacked_per_build_key_with_its_version(tmp_path: Path) -> None:
    archive = make_sdist(tmp_path / "dist", {"CMakeLists.txt": "project(x)\n"}, version="0.32.0")
    result = run_one(tmp_path, f"sdist:{archive}")
    assert result.outcome == "pass", result.message
    vllm, tree = result.facts.vllm, Path(str(result.facts.source_dir))
    assert vllm is not None and (vllm.kind, vllm.version, vllm.path) == ("sdist", "0.32.0", str(archive))
    assert tree.name == f"sdist-vllm_0_32_0-{str(vllm.sha256)[:12]}-{result.facts.build_key}"
    assert (tree / "CMakeLists.txt").is_file()


def test_the_cli_says_a_missing_sdist_in_one_line_and_exits_1(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    matrix = tmp_path / "m.toml"
    matrix.write_text('[matrix]\n[[matrix.include]]\nid = "s"\ntorch = "2.13.0+cpu"\ncuda = "cpu"\n'
                      'gpu = "cpu"\nvllm = "sdist:vllm==9.9.9"\n')  # fmt: skip
    env = {**os.environ, "VLLM_MATRIX_INDEX_PYPI": str(index), "VLLM_MATRIX_INDEX_RELEASE": str(index)}
    argv = [sys.executable, "-m", "vllm_matrix", "--matrix", str(matrix), "run", "s", "--workdir",
            str(tmp_path / "work"), "--reports", str(tmp_path / "reports"), "--run", "r"]  # fmt: skip
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 1, out.stderr
    verdict = [line for line in out.stderr.splitlines() if "fail at resolve" in line]
    assert verdict == [
        f"vllm-matrix: [1/1] s: fail at resolve (SDIST_MISSING): no sdist of vllm==9.9.9 on {index} "
        f"(it lists no sdists of that project) ({verdict[0].rsplit('(', 1)[1]}"
    ]
    assert "Traceback" not in out.stderr

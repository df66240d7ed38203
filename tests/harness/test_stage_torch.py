"""torch: the installed version is read from the venv's metadata; a replaced torch is TORCH_OVERRIDDEN."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cellctx import context

from vllm_matrix.stages import torch
from vllm_matrix.stages.base import StageFailed


def _install(site: Path, version: str) -> None:
    for old in site.glob("torch-*.dist-info"):
        shutil.rmtree(old)
    info = site / f"torch-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n")


def test_installed_version_reads_the_venv_not_this_interpreter(tmp_path: Path) -> None:
    venv = tmp_path / "v"
    assert torch.installed_version(venv, "torch") is None
    _install(venv / "lib" / "python3.11" / "site-packages", "2.13.0+cpu")
    assert torch.installed_version(venv, "torch") == "2.13.0+cpu"


def test_unchanged_torch_passes_and_a_replaced_one_fails_the_stage_that_did_it(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, stage="prepare")
    site = ctx.venv / "lib" / "python3.12" / "site-packages"
    _install(site, "2.10.0.dev20261101+cu128")
    ctx.state.torch_version = "2.10.0.dev20261101+cu128"
    torch.ensure_unchanged(ctx)
    _install(site, "2.9.1")
    with pytest.raises(StageFailed) as caught:
        torch.ensure_unchanged(ctx.bound("build"))
    failed = caught.value
    assert (failed.stage, failed.klass) == ("build", "TORCH_OVERRIDDEN")
    assert failed.message == "torch 2.10.0.dev20261101+cu128 was replaced by 2.9.1 during build"
    assert failed.log is not None and failed.message in failed.log.read_text()


def test_uninstalled_torch_is_named(tmp_path: Path) -> None:
    ctx = context(tmp_path, {}, stage="source")
    ctx.state.torch_version = "2.13.0+cpu"
    (ctx.venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    with pytest.raises(StageFailed, match=r"replaced by nothing \(uninstalled\) during source"):
        torch.ensure_unchanged(ctx)

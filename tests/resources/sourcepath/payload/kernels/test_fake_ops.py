"""The fake vLLM's one kernel, run inside the cell venv by the suites stage."""

import os

import torch
import vllm._C  # noqa: F401  (imports vllm, which loads torch first; registers torch.ops._C)


def test_add_one_matches_reference() -> None:
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    torch.testing.assert_close(torch.ops._C.add_one(x), x + 1)


def test_runner_names_the_cell() -> None:
    assert os.environ["VLLM_MATRIX_CELL_ID"]
    assert os.environ["VLLM_MATRIX_DEVICE"] == "cpu"

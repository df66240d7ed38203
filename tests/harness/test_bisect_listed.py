"""Explicit lists of values: the field named or inferred, each value checked, the ends chosen."""

from __future__ import annotations

import pytest

from vllm_matrix.bisect import listed
from vllm_matrix.errors import InputError


def test_vllm_sources_and_torch_specs_are_recognised() -> None:
    wheels = listed.space("wheel:vllm==0.30.0,wheel:vllm==0.31.0,git:v0.32.0", None, None)
    assert wheels.field == "vllm" and wheels.labels == [
        "wheel:vllm==0.30.0",
        "wheel:vllm==0.31.0",
        "git:v0.32.0",
    ]
    assert [c.suffix for c in wheels.candidates] == ["wheel_vllm_0_30_0", "wheel_vllm_0_31_0", "git_v0_32_0"]
    torch = listed.space("nightly:2026-11-01, 2.13.0+cpu", None, None)
    assert torch.field == "torch" and torch.labels == ["nightly:2026-11-01", "2.13.0+cpu"]


def test_a_named_field_and_ends_among_the_values() -> None:
    found = listed.space("flash_attn=2,3,4", "3", None)
    assert found.field == "flash_attn" and [c.value for c in found.candidates] == [3, 4]
    assert listed.space("enforce_eager=false,true", None, None).candidates[1].value is True


@pytest.mark.parametrize(
    ("over", "good", "bad", "message"),
    [
        ("wheel:vllm==0.30.0", None, None, "a list of two or more values"),
        ("fp16,bf16", None, None, "cannot tell which field"),
        ("flash_attn=2,2", None, None, "listed twice"),
        ("dtype=float32,fp8", None, None, "bisect --over dtype: expected one of"),
        ("flash_attn=2,3,4", "5", None, "--good '5' is not one of the listed values"),
        ("flash_attn=2,3,4", "4", "2", "does not come before"),
    ],
)
def test_bad_lists(over: str, good: str | None, bad: str | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        listed.space(over, good, bad)


def test_torch_and_vllm_are_kinds_not_lists() -> None:
    assert not listed.is_list("torch") and not listed.is_list("vllm") and listed.is_list("vllm=git:a,git:b")

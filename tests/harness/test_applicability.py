"""matrix.applicability: which combinations are n/a, from the shipped table and the user's files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vllm_matrix.errors import InputError
from vllm_matrix.matrix import applicability, config, expand

TODAY = dt.date(2026, 12, 1)


def cell(**fields: object) -> dict[str, object]:
    base = {"python": "3.12", "torch": "nightly:latest", "cuda": "cu130", "arch": "12.0", "flash_attn": 2,
            "vllm": "git:main", "gpu": "sm_120", "dtype": "bfloat16"}  # fmt: skip
    return base | fields


def why(**fields: object) -> str | None:
    return applicability.builtin().why_not(cell(**fields), TODAY)


def test_flash_attention_versions_by_gpu() -> None:
    assert why() is None  # FA2 on sm_120
    assert "FA3 only on SM 9.x" in str(why(flash_attn=3))
    assert "FA4 only on SM 10.x" in str(why(flash_attn=4))
    assert why(gpu="sm_90", arch="9.0", flash_attn=3) is None
    assert why(gpu="sm_100", arch="10.0;12.0", flash_attn=4) is None
    assert "vllm PR #47218" in str(why(flash_attn=4))  # every reason names its source


def test_cuda_variants_by_torch_date_and_release() -> None:
    assert "cu128 nightlies stopped" in str(why(cuda="cu128"))  # latest is today: after 2026-04-07
    assert why(cuda="cu128", torch="nightly:2026-04-07") is None
    assert why(cuda="cu128", torch="nightly:2026-04-08") is not None
    assert "removed" in str(why(cuda="cu129", torch="nightly:2025-06-01"))
    assert why(cuda="cu129", torch="2.9.0") is None  # releases kept cu129
    assert "legacy" in str(why(cuda="cu126", torch="2.15.0"))
    assert why(cuda="cu126", torch="2.14.1") is None
    assert "CUDA 13" in str(why(cuda="cu130", torch="2.8.0"))


def test_an_arch_list_without_the_gpu_is_n_a_only_for_source_builds() -> None:
    assert "no code for sm_90" in str(why(gpu="sm_90", arch="12.0", flash_attn=3))
    assert why(gpu="sm_90", arch="9.0;12.0", flash_attn=3) is None
    # a prebuilt vLLM compiles nothing: its cells have no arch list to judge
    assert why(gpu="sm_90", arch="", flash_attn=3, vllm="wheel:vllm==0.33.0") is None


def test_latest_n_is_dated_n_days_back() -> None:
    assert applicability.nightly_date("nightly:latest~3", TODAY) == dt.date(2026, 11, 28)
    assert applicability.nightly_date("2.13.0+cpu", TODAY) is None


def test_a_users_file_adds_replaces_and_switches_off_rules(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[known]\ncuda = ["cu134"]\n'
        '[[rule]]\nid = "cu128-ended-with-2.12"\noff = true\n'
        '[[rule]]\nid = "fa4-sm10x-only"\nflash_attn = 4\ngpu = "sm_120"\nreason = "not yet"\nsource = "me"\n'
        '[[rule]]\nid = "no-fp16-here"\ndtype = "float16"\n'
        'reason = "this lab runs bf16 only"\nsource = "lab policy"\n'
    )
    table = applicability.load([mine])
    assert table.why_not(cell(cuda="cu128"), TODAY) is None
    assert table.why_not(cell(flash_attn=4), TODAY) == "not yet (me)"
    assert table.why_not(cell(gpu="sm_90", arch="9.0", flash_attn=4), TODAY) is None  # replaced, not added
    assert table.why_not(cell(dtype="float16"), TODAY) == "this lab runs bf16 only (lab policy)"
    assert not table.unknown("cuda", "cu134") and table.unknown("cuda", "cu135")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[rule]]\nid = "x"\ngpuu = "sm_90"\nreason = "r"\nsource = "s"\n', "unknown key 'gpuu'"),
        ('[[rule]]\nid = "x"\ngpu = "sm_90"\nsource = "s"\n', "'reason' is required"),
        ('[[rule]]\ngpu = "sm_90"\nreason = "r"\nsource = "s"\n', "'id' is required"),
        ('[[rule]]\nid = "x"\nreason = "r"\nsource = "s"\n', "would rule out every cell"),
        ('[[rule]]\nid = "x"\nnightly_after = "2026-13-01"\nreason = "r"\nsource = "s"\n', "nightly_after"),
        ('[[rule]]\nid = "x"\ntorch_release = "~=~2"\nreason = "r"\nsource = "s"\n', "torch_release"),
        ("[rules]\n", "unknown table 'rules'"),
    ],
)
def test_a_broken_table_is_one_line_naming_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as caught:
        applicability.load([path])
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_expansion_marks_n_a_cells_and_a_matrix_can_name_its_own_rules(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "fa3-sm9x-only"\noff = true\n'  # a lab that tries FA3 everywhere
    )
    body = '[matrix]\ntorch = ["nightly:latest"]\ncuda = ["cu130"]\narch = ["12.0"]\nflash_attn = [2, 3]\n'
    body += 'vllm = ["git:main"]\ngpu = ["sm_120"]\n'
    (tmp_path / "plain.toml").write_text(body)
    (tmp_path / "lab.toml").write_text('[applicability]\nfiles = ["rules.toml"]\n' + body)
    plain = expand.expand(config.load(tmp_path / "plain.toml"), today=TODAY)
    lab = expand.expand(config.load(tmp_path / "lab.toml"), today=TODAY)
    assert [c.not_applicable is None for c in plain] == [True, False]
    assert [c.not_applicable is None for c in lab] == [True, True]

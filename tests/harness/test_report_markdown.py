"""The Markdown table: one symbol per cell, legend, totals last, failures under it, everything escaped."""

from __future__ import annotations

import pytest
from reportruns import BREAKS, NIGHTS, PASSES, SHARES, Night, run_night

from vllm_matrix.report import inputs, markdown, model


@pytest.fixture(scope="module")
def text(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("md")
    night = Night(
        "m1",
        "2026-11-28",
        "2026-11-28T06:00:00+00:00",
        fail_build=NIGHTS[1].fail_build,
        fail_verify={PASSES},
    )
    cells = model.views(inputs.load([run_night(root / "reports", root / "w", night)]).entries)
    return markdown.render("vLLM × torch compatibility: m1", model.pivot(cells), cells)


def test_one_symbol_per_cell_with_the_class_and_totals_last(text: str) -> None:
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| CUDA | arch | FA | vLLM ref | GPU | dtype | 2026-11-28 | latest |"
    assert "sm\\_120" not in text, "an underscore inside a word is not escaped"
    assert "| cu132 | 12.0 | FA2 | main | sm_120 | bf16 | ❌ `NVCC_UNSUPPORTED_ARCH` |  |" in table
    assert "| cu132 | 12.0 | FA2 | main | sm_120 | fp16 | ❌ `NVCC_UNSUPPORTED_ARCH`† |  |" in table, (
        "experimental"
    )
    assert "| cu130 | 12.0 | FA2 | main | sm_120 | fp16 | ✅ |  |" in table
    assert "| cu130 | 10.0 | FA4 | main | sm_100 | bf16 |  | ⏭️ |" in table
    assert table[-1] == "| **total** |  |  |  |  |  | ✅ 1 ❌ 3 | ⏭️ 1 |"
    assert lines.index(table[-1]) < lines.index("### Failures")
    assert any(line.startswith("Legend: ✅ pass · ❌ fail · ⏭️ skip · n/a (") for line in lines)
    assert "**Totals:** 5 cells: 1 pass, 3 fail (1 experimental), 1 skip" in lines


def test_failures_name_cell_stage_class_and_the_decisive_line(text: str) -> None:
    assert (
        f"- `{BREAKS}` (run `m1`): fail, stage `build`, `NVCC_UNSUPPORTED_ARCH`: "
        "`nvcc fatal : Unsupported gpu architecture 'compute_120'`"
    ) in text.splitlines()
    assert f"- `{SHARES}` (run `m1`): fail, stage `build`" in text


def test_markup_from_a_log_stays_inside_a_code_span(text: str) -> None:
    (line,) = [line for line in text.splitlines() if line.startswith(f"- `{PASSES}`")]
    assert line.endswith(": ``ImportError: <script>alert('xss')</script> | `rm -rf` && <b>bold</b>``")
    table_row = next(
        r for r in text.splitlines() if r.startswith("| cu130 | 12.0 | FA2 | main | sm_120 | bf16 |")
    )
    assert table_row.endswith("| ❌ `OTHER` |  |")


def test_code_spans_and_plain_text_escape_what_markdown_would_act_on() -> None:
    assert markdown.code("a `b` c") == "``a `b` c``"
    assert markdown.code("`x`") == "`` `x` ``"
    assert markdown.code("a|b", in_table=True) == "`a\\|b`"
    assert (
        markdown.plain("<script>*x*</script> _y_ sm_120") == "\\<script\\>\\*x\\*\\</script\\> \\_y\\_ sm_120"
    )

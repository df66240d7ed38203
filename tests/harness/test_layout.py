"""The package's shape as rules: imports only go down, one stage list, the payload ships inside."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from vllm_matrix.matrix.names import DEFAULT_TIMEOUTS, STAGES
from vllm_matrix.stages.pipeline import PIPELINE
from vllm_matrix.stages.suites import payload_dir

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "vllm_matrix"
# Third-party imports matrix/ may use: packaging is a dependency of nox itself, so noxfile.py
# can always import matrix/.
MATRIX_ALLOWED = {"packaging"}


def imports(path: Path) -> set[str]:
    """The modules a file imports (absolute names; relative imports are not used here)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def test_matrix_imports_only_the_standard_library_and_itself() -> None:
    for path in modules("matrix"):
        for name in imports(path):
            top = name.split(".")[0]
            inside = name.startswith(("vllm_matrix.matrix", "vllm_matrix.errors"))  # errors: stdlib-only
            assert top in sys.stdlib_module_names or top in MATRIX_ALLOWED or top == "__future__" or inside, (
                f"{path.relative_to(PACKAGE)} imports {name}"
            )


@pytest.mark.parametrize("package", ["nightly", "classify", "archaudit"])
def test_libraries_never_import_the_stages_or_the_runner(package: str) -> None:
    forbidden = ("vllm_matrix.stages", "vllm_matrix.runner", "vllm_matrix.commands", "vllm_matrix.results")
    for path in modules(package):
        bad = sorted(n for n in imports(path) if n.startswith(forbidden))
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_git_layer_issues_no_stage_verdicts() -> None:
    assert not [n for n in imports(PACKAGE / "gitsource.py") if n.startswith("vllm_matrix.stages")]


def test_the_pipeline_implements_exactly_the_stage_names_in_order() -> None:
    assert tuple(stage.name for stage in PIPELINE) == STAGES == tuple(DEFAULT_TIMEOUTS)


def test_stages_are_not_looked_up_by_string() -> None:
    for path in [PACKAGE / "runner.py", *modules("stages")]:
        text = path.read_text(encoding="utf-8")
        assert "import_module" not in text, path


def test_the_payload_is_package_data() -> None:
    found = payload_dir({})
    assert found == PACKAGE / "payload"
    assert {p.name for p in found.iterdir()} >= {
        "pytest-payload.ini",
        "kernels",
        "generation",
        "payload_common",
    }

"""The catalogue is data: the built-in file is valid, user files are checked and merged."""

from __future__ import annotations

from pathlib import Path

import pytest

from vllm_matrix.classify import catalogue
from vllm_matrix.errors import InputError


def test_builtin_catalogue_covers_the_reference_classes() -> None:
    cat = catalogue.builtin()
    names = {s.name for s in cat.signatures}
    reference = Path(__file__).parents[3] / "shared" / "reference" / "failure-catalogue.md"
    if reference.is_file():  # shared/ lies beside the checkout in the dev and CI layouts
        listed = {line.split("|")[1].strip().split()[0] for line in reference.read_text().splitlines()
                  if line.startswith("| ") and line.split("|")[1].strip()[:1].isupper()}  # fmt: skip
        assert listed - {"class"} <= names
    assert all(s.hint and "\n" not in s.hint for s in cat.signatures)
    assert all(s.stages <= set(catalogue.STAGES) for s in cat.signatures)
    [note] = [s for s in cat.signatures if s.note]
    assert note.name == "TORCH_PIN_WARN"


def test_stage_words_of_the_reference_map_onto_runner_stages(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[class]]\nname = "A"\nstages = ["import", "kernel check"]\npatterns = ["x"]\n'
        '[[class]]\nname = "B"\nstages = ["install", "configure"]\npatterns = ["y"]\n'
        '[[class]]\nname = "C"\npatterns = ["z"]\n'
    )
    sigs = {s.name: s.stages for s in catalogue.load([path]).signatures}
    assert sigs["A"] == {"verify", "suites"}
    assert sigs["B"] == {"venv", "torch", "prepare", "build"}
    assert sigs["C"] == set(catalogue.STAGES)


def test_a_user_class_of_a_builtin_name_extends_it(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[class]]\nname = "COMPILE_OOM"\npriority = 99\npatterns = ["Out of memory: Killed"]\n')
    base = {s.name: s for s in catalogue.builtin().signatures}["COMPILE_OOM"]
    merged = {s.name: s for s in catalogue.load([path]).signatures}["COMPILE_OOM"]
    assert merged.priority == 99
    assert merged.patterns[: len(base.patterns)] == base.patterns
    assert merged.patterns[-1].pattern == "Out of memory: Killed"
    assert (merged.hint, merged.stages, merged.reject) == (base.hint, base.stages, base.reject)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[class]\n", "not valid TOML"),
        ('[[klass]]\nname = "A"\n', "unknown table 'klass'"),
        ('[[class]]\nname = "lower"\n', "UPPER_SNAKE_CASE"),
        ('[[class]]\nname = "OTHER"\n', "not OTHER"),
        ('[[class]]\nname = "A"\npattern = ["x"]\n', "class A: unknown key 'pattern'"),
        ('[[class]]\nname = "A"\npatterns = ["(unclosed"]\n', "class A: bad regular expression '(unclosed'"),
        ('[[class]]\nname = "A"\nstages = ["compile"]\n', "class A: unknown stage 'compile'"),
        ('[[class]]\nname = "A"\npriority = "high"\n', "'priority' must be a non-negative integer"),
        ('[[class]]\nname = "A"\nhint = "two\\nlines"\n', "'hint' must be one line"),
        ('[[class]]\nname = "A"\npatterns = "x"\n', "'patterns' must be a list of strings"),
        ('[other]\nerrors = "x"\n', "[other] takes only"),
        ('[[class]]\nname = "A"\nhints = "x"\n', "'hints' must be a list"),
        ('[[class]]\nname = "A"\nhints = [{ when = "x" }]\n', "each of 'hints' must be"),
        ('[[class]]\nname = "A"\nhints = [{ when = "(", hint = "h" }]\n', "bad regular expression '('"),
        ('[[class]]\nname = "A"\nheading = ["("]\n', "bad regular expression"),
        ('[other]\nprefix = "x"\n', "'prefix' must be a list of strings"),
    ],
)
def test_a_bad_user_file_is_one_clear_input_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        catalogue.load([path])
    assert str(path) in str(exc.value) and message in str(exc.value)


def test_check_stage() -> None:
    assert catalogue.check_stage("build") == "build"
    assert catalogue.check_stage(None) is None
    with pytest.raises(InputError, match="expected one of resolve, venv, torch"):
        catalogue.check_stage("compile")


def test_user_hints_come_first_and_pattern_lists_add_up(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[class]]\nname = "CMAKE_CONFIGURE"\nheading = ["^My Error at"]\n'
        "hints = [{ when = 'OpenMP', hint = \"install libomp-dev\" }]\n"
        "[other]\nprefix = ['\\[job \\d+\\] ']\n"
    )
    base = {s.name: s for s in catalogue.builtin().signatures}["CMAKE_CONFIGURE"]
    merged = {s.name: s for s in catalogue.load([path]).signatures}["CMAKE_CONFIGURE"]
    assert merged.hints[0].hint == "install libomp-dev" and merged.hints[1:] == base.hints
    assert (
        merged.heading[: len(base.heading)] == base.heading and len(merged.heading) == len(base.heading) + 1
    )
    assert merged.hint_for(["Could NOT find OpenMP_CXX"]) == "install libomp-dev"
    assert merged.hint_for(["something else entirely"]) == base.hint
    assert catalogue.load([path]).without_prefix("[job 3] [build] c++: error") == "c++: error"


def test_hints_fit_what_the_evidence_shows() -> None:
    cmake = {s.name: s for s in catalogue.builtin().signatures}["CMAKE_CONFIGURE"]
    compiler = cmake.hint_for(["X86 backend requires gcc/g++ >= 12.3"])
    assert "compiler" in compiler and "CUDA" not in compiler
    assert "CUDA" in cmake.hint_for(["No CMAKE_CUDA_COMPILER could be found."])
    assert "CUDA" not in cmake.hint  # the class's own hint makes no CUDA assumption

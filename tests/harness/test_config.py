"""matrix.toml validation: every mistake is one InputError naming file, line, key and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_matrix.errors import InputError
from vllm_matrix.matrix import config

GOOD = """
[matrix]
torch = ["nightly:latest"]
cuda = ["cu128"]
vllm = ["git:main"]
gpu = ["sm_120"]
"""


def load_text(tmp_path: Path, text: str) -> config.MatrixConfig:
    path = tmp_path / "matrix.toml"
    path.write_text(text)
    return config.load(path)


BAD = [
    ('[matrix]\ntorch = ["nightly:latest"\n', r"matrix\.toml:2: TOML syntax error: Unclosed array"),
    ("[matrix]\ncuda = cu128\ngpu = []\n", r"matrix\.toml:2: TOML syntax error: .*at line 2, column 8"),
    (
        GOOD.replace("cuda =", "cdua ="),
        r"matrix\.toml:4: matrix\.cdua: unknown key \(did you mean 'cuda'\?\)",
    ),
    (GOOD + "[defualts]\n", r"defualts: unknown key \(did you mean 'defaults'\?\)"),
    (
        GOOD.replace('cuda = ["cu128"]', 'cuda = "cu128"'),
        r":4: matrix\.cuda: expected a list of values, got str",
    ),
    (GOOD.replace('["cu128"]', "[128]"), r"matrix\.cuda: expected a CUDA variant .* got int 128"),
    (GOOD.replace('["cu128"]', "[]"), r":4: matrix\.cuda: the axis is empty"),
    (
        GOOD.replace('"git:main"', '"git:main; rm -rf ~"'),
        r"matrix\.vllm: git value 'main; rm -rf ~' contains "
        r"the shell metacharacter ';'",
    ),
    (GOOD.replace('"git:main"', '"path:/tmp/$(id)"'), r"contains the shell metacharacter '\$'"),
    (
        GOOD + '[[matrix.include]]\ncdua = "cu130"\n',
        r"matrix\.include\[0\]\.cdua: unknown axis "
        r"\(did you mean 'cuda'\?\)",
    ),
    (
        GOOD + '[[matrix.exclude]]\ndtype = "float32"\n',
        r"matrix\.exclude\[0\]\.dtype: not an axis of \[matrix\]",
    ),
    (GOOD.replace('["nightly:latest"]', '["nightly:yesterday"]'), r"matrix\.torch: expected nightly:latest"),
    (GOOD.replace('["nightly:latest"]', '["nightly:2026-11-05..2026-11-01"]'), r"starts after it ends"),
    (GOOD.replace('["sm_120"]', '["blackwell"]'), r"matrix\.gpu: expected a GPU such as"),
    (
        GOOD.replace('cuda = ["cu128"]', 'cuda = ["cu128"]\narch = ["12"]'),
        r"matrix\.arch: expected TORCH_CUDA",
    ),
    (
        GOOD.replace('cuda = ["cu128"]', 'cuda = ["cu128"]\nflash_attn = [5]'),
        r"matrix\.flash_attn: 5 is not a flash_attn value the field has ever had \(known: 2, 3, 4",
    ),
    (
        GOOD.replace('cuda = ["cu128"]', 'cuda = ["cu999"]'),
        r":4: matrix\.cuda: 'cu999' is not a cuda value the field has ever had \(known: cpu, cu92",
    ),
    (
        GOOD.replace('cuda = ["cu128"]', 'cuda = ["cu128"]\nflash_attn = ["two"]'),
        r"expected a flash-attention version",
    ),
    (
        GOOD.replace('vllm = ["git:main"]', 'vllm = ["vllm-commit:main"]'),
        r"matrix\.vllm: vllm-commit: expected a hex commit sha \(7 to 40 digits\) or 'nightly', got 'main'",
    ),
    (
        GOOD.replace('vllm = ["git:main"]', 'vllm = ["nightly-vllm:yesterday"]'),
        r"nightly-vllm: expected latest, latest~N or YYYY-MM-DD, got 'yesterday'",
    ),
    (GOOD + "[timeouts]\nbuild = -1\n", r"timeouts\.build: expected a positive number of seconds"),
    (GOOD + "[timeouts]\nbiuld = 10\n", r"timeouts\.biuld: unknown key \(did you mean 'build'\?\)"),
    (
        GOOD + '[ids]\ntemplate = "{cdua}"\n',
        r"ids\.template: unknown placeholder \{cdua\} \(did you mean \{cuda\}\?\)",
    ),
    ("[defaults]\n", r"the file has no \[matrix\] table"),
    (GOOD + '[[matrix.include]]\nid = "a-b"\n', r"matrix\.include\[0\]\.id: expected an id of letters"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_input_names_file_key_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        load_text(tmp_path, text)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "matrix.toml"))


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the matrix file"):
        config.load(tmp_path / "nope.toml")


def test_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_bytes(b"\xff\xfe[matrix]")
    with pytest.raises(InputError, match="not UTF-8"):
        config.load(tmp_path / "m.toml")


def test_index_env_override_and_matrix_file_env() -> None:
    idx = config.Index("release", "https://download.pytorch.org/whl")
    assert idx.env_var == "VLLM_MATRIX_INDEX_RELEASE"
    assert idx.effective({}) == "https://download.pytorch.org/whl"
    assert idx.effective({"VLLM_MATRIX_INDEX_RELEASE": "/srv/wheels"}) == "/srv/wheels"
    assert config.matrix_path(None, {"VLLM_MATRIX_FILE": "/x/m.toml"}) == Path("/x/m.toml")
    assert config.matrix_path("a.toml", {"VLLM_MATRIX_FILE": "/x/m.toml"}) == Path("a.toml")


def test_defaults_timeouts_indexes_and_sources_are_read(tmp_path: Path) -> None:
    cfg = load_text(
        tmp_path,
        GOOD + '[defaults]\ndtype = "float32"\n[timeouts]\nbuild = 60\n'
        '[indexes]\nnightly = "http://127.0.0.1:9/whl/nightly"\n'
        '[sources]\nvllm_git = "/srv/vllm.git"\n[classify]\ncatalogues = ["mine.toml"]\n',
    )
    assert cfg.defaults["dtype"] == "float32"
    assert cfg.defaults["python"] == "3.12"
    assert cfg.timeouts["build"] == 60 and cfg.timeouts["verify"] == 600
    assert cfg.index("nightly").effective({}) == "http://127.0.0.1:9/whl/nightly"
    assert cfg.index("pypi").effective({}) == "https://pypi.org/simple"
    assert cfg.vllm_git_url({}) == "/srv/vllm.git"
    assert cfg.vllm_git_url({"VLLM_MATRIX_VLLM_GIT": "/other"}) == "/other"
    assert cfg.catalogues == (tmp_path / "mine.toml",)
    assert cfg.fetchcontent is None and cfg.fetchcontent_dir({}) is None


def test_the_offline_fetchcontent_dir_is_relative_to_the_matrix_file(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, GOOD + '[sources]\nfetchcontent = "deps/offline"\n')
    assert cfg.fetchcontent_dir({}) == tmp_path / "deps" / "offline"
    assert cfg.fetchcontent_dir({"VLLM_MATRIX_FETCHCONTENT_DIR": "/srv/fc"}) == Path("/srv/fc")
    with pytest.raises(InputError, match=r"matrix\.toml:\d+: sources\.fetchcontent: expected the path"):
        load_text(tmp_path, GOOD + "[sources]\nfetchcontent = 3\n")
    with pytest.raises(InputError, match=r"sources\.fetchcontnet: unknown key \(did you mean 'fetchcontent'"):
        load_text(tmp_path, GOOD + '[sources]\nfetchcontnet = "x"\n')


toml_scalars = st.one_of(st.text(max_size=12), st.integers(-3, 5), st.booleans())
keys = st.sampled_from(
    [
        "torch",
        "cuda",
        "arch",
        "flash_attn",
        "vllm",
        "gpu",
        "dtype",
        "python",
        "suites",
        "experimental",
        "enforce_eager",
        "tocrh",
        "include",
        "exclude",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_no_crash_on_any_text(text: str) -> None:
    try:
        config.parse(text, Path("m.toml"))
    except InputError as exc:
        assert str(exc).startswith("m.toml")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else "_" for c in str(value)) + '"'


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, st.one_of(toml_scalars, st.lists(toml_scalars, max_size=3)), max_size=6))
def test_no_crash_on_any_structure(matrix: dict[str, object]) -> None:
    text = "[matrix]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in matrix.items())
    try:
        config.parse(text, Path("m.toml"))
    except InputError as exc:
        assert str(exc).startswith("m.toml")

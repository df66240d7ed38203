"""matrix.toml -> one frozen, validated ``MatrixConfig``.

Every problem becomes an ``InputError`` naming the file, the line where it can
be found, the key and what was expected, with "did you mean" for typos.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllm_matrix.errors import InputError
from vllm_matrix.matrix.applicability import Table
from vllm_matrix.matrix.applicability import load as load_applicability
from vllm_matrix.matrix.fields import BUILTIN_DEFAULTS, CHECKERS, check_id
from vllm_matrix.matrix.names import DEFAULT_TIMEOUTS, STAGES
from vllm_matrix.matrix.specs import SpecError, expand_torch_value

MATRIX_ENV = "VLLM_MATRIX_FILE"
DEFAULT_MATRIX = "matrix.toml"
DEFAULT_TEMPLATE = "{torch}_{cuda}_{arch}_{flash_attn}_{vllm}_{dtype}"
DEFAULT_INDEXES = {
    "nightly": "https://download.pytorch.org/whl/nightly",
    "release": "https://download.pytorch.org/whl",
    "pypi": "https://pypi.org/simple",
    "vllm_wheels": "https://wheels.vllm.ai",  # vLLM's per-commit wheels (vllm-commit:)
}
DEFAULT_VLLM_GIT = "https://github.com/vllm-project/vllm.git"
FETCHCONTENT_ENV = "VLLM_MATRIX_FETCHCONTENT_DIR"
SOURCE_KEYS = ("vllm_git", "fetchcontent", "vllm_dependencies")
RESOLVE = "resolve"
TOP_KEYS = ("matrix", "defaults", "indexes", "timeouts", "ids", "sources", "classify", "applicability")
# Values whose spelling the applicability table knows (exit code 2 for any other).
KNOWN_CHECKED = ("cuda", "flash_attn")
FIELD_KEYS = tuple(CHECKERS)


@dataclass(frozen=True)
class Index:
    """A named package index; ``VLLM_MATRIX_INDEX_<NAME>`` overrides its URL.

    A value that is a local directory (not a URL) is a find-links directory.
    """

    name: str
    url: str

    @property
    def env_var(self) -> str:
        return "VLLM_MATRIX_INDEX_" + re.sub(r"\W", "_", self.name).upper()

    def effective(self, environ: Mapping[str, str] | None = None) -> str:
        """The URL in force: the environment's override, else the file's."""
        env = os.environ if environ is None else environ
        return env.get(self.env_var) or self.url


@dataclass(frozen=True)
class MatrixConfig:
    """A validated matrix file. ``expand.expand`` turns it into cells."""

    path: Path
    axes: dict[str, tuple[Any, ...]]
    exclude: tuple[dict[str, Any], ...] = ()
    include: tuple[dict[str, Any], ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    id_template: str = DEFAULT_TEMPLATE
    vllm_git: str = DEFAULT_VLLM_GIT
    catalogues: tuple[Path, ...] = ()
    fetchcontent: Path | None = None  # [sources] fetchcontent: pre-fetched sources for offline builds
    # [sources] vllm_dependencies: "resolve" (uv resolves what vLLM declares), "none" (--no-deps),
    # or a requirements file installed with --no-deps: an air-gapped container that has the rest
    vllm_dependencies: str | Path = RESOLVE
    applicability: tuple[Path, ...] = ()

    def applicability_table(self) -> Table:
        """The applicability table: the built-in rules, then this matrix's own files."""
        return load_applicability(self.applicability)

    def index(self, name: str) -> Index:
        """A named index; the built-in ones always exist."""
        return self.indexes.get(name) or Index(name, DEFAULT_INDEXES[name])

    def vllm_git_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The vLLM repository to mirror; ``VLLM_MATRIX_VLLM_GIT`` overrides it."""
        env = os.environ if environ is None else environ
        return env.get("VLLM_MATRIX_VLLM_GIT") or self.vllm_git

    def fetchcontent_dir(self, environ: Mapping[str, str] | None = None) -> Path | None:
        """The offline FetchContent sources dir; ``VLLM_MATRIX_FETCHCONTENT_DIR`` overrides the file."""
        env = os.environ if environ is None else environ
        return Path(env[FETCHCONTENT_ENV]).expanduser() if env.get(FETCHCONTENT_ENV) else self.fetchcontent


def matrix_path(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The matrix file to use: the argument, else ``$VLLM_MATRIX_FILE``, else ./matrix.toml."""
    env = os.environ if environ is None else environ
    return Path(explicit or env.get(MATRIX_ENV) or DEFAULT_MATRIX)


def load(path: Path) -> MatrixConfig:
    """Read and validate a matrix file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the matrix file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: the matrix file is not UTF-8 text") from None
    return parse(text, path)


def parse(text: str, path: Path) -> MatrixConfig:
    """Validate the text of a matrix file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(_syntax_error(path, text, str(exc))) from None
    return _Parser(path, text).config(data)


def _syntax_error(path: Path, text: str, message: str) -> str:
    """``file:line: TOML syntax error: ...``, with the line tomllib names (or the last)."""
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    line = found.group(1) if found else str(max(1, len(text.splitlines())))
    return f"{path}:{line}: TOML syntax error: {message}"


class _Parser:
    """Turns the TOML document into a MatrixConfig, locating every error."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, where: str, message: str) -> InputError:
        section, _, key = where.rpartition(".")
        line = self.line_of(section, key.split("[")[0])
        loc = f"{self.path}:{line}" if line else str(self.path)
        return InputError(f"{loc}: {where}: {message}")

    def line_of(self, section: str, key: str) -> int | None:
        """First line assigning ``key`` inside ``[section]`` (best effort)."""
        current = ""
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
            if header:
                current = header.group(1)
                if not key and current == section:
                    return number
                continue
            top = section.split(".")[0]
            if (current == top or not top) and re.search(rf"(^|[{{,\s]){re.escape(key)}\s*=", line):
                return number
        return None

    def unknown(self, where: str, key: str, allowed: tuple[str, ...]) -> InputError:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (expected one of {', '.join(allowed)})"
        return self.fail(f"{where}.{key}" if where else key, f"unknown key{hint}")

    def table(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, f"expected a table, got {type(data).__name__}")
        return data

    def config(self, data: dict[str, Any]) -> MatrixConfig:
        for key in data:
            if key not in TOP_KEYS:
                raise self.unknown("", key, TOP_KEYS)
        if "matrix" not in data:
            raise self.fail("matrix", "the file has no [matrix] table")
        matrix = self.table(data["matrix"], "matrix")
        axes = self.axes(matrix)
        config = MatrixConfig(
            path=self.path,
            axes=axes,
            exclude=tuple(self.entries(matrix, "exclude", axes)),
            include=tuple(self.entries(matrix, "include", axes)),
            defaults=self.defaults(data.get("defaults", {})),
            indexes=self.indexes(data.get("indexes", {})),
            timeouts=self.timeouts(data.get("timeouts", {})),
            id_template=self.template(data.get("ids", {})),
            vllm_git=self.sources(data.get("sources", {})),
            fetchcontent=self.fetchcontent(data.get("sources", {})),
            vllm_dependencies=self.vllm_dependencies(data.get("sources", {})),
            catalogues=self.catalogues(data.get("classify", {})),
            applicability=self.applicability_files(data.get("applicability", {})),
        )
        self.check_known(config)
        return config

    def check_known(self, config: MatrixConfig) -> None:
        """Every CUDA variant and FA version named is one the applicability table knows."""
        table = config.applicability_table()
        named = [("matrix", k, v) for k, vs in config.axes.items() for v in vs]
        named += [(f"matrix.include[{i}]", k, v) for i, e in enumerate(config.include) for k, v in e.items()]
        named += [("defaults", k, v) for k, v in config.defaults.items()]
        for where, key, value in named:
            if key in KNOWN_CHECKED and table.unknown(key, value):
                known = ", ".join(str(k) for k in table.known[key])
                raise self.fail(
                    f"{where}.{key}",
                    f"{value!r} is not a {key} value the field has ever had (known: {known}; "
                    "add it under [known] in an [applicability] file if it is new)",
                )

    def value(self, where: str, key: str, raw: Any) -> Any:
        try:
            return CHECKERS[key](raw)
        except SpecError as exc:
            raise self.fail(where, str(exc)) from None

    def axes(self, matrix: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        axes: dict[str, tuple[Any, ...]] = {}
        for key, raw in matrix.items():
            if key in ("include", "exclude"):
                continue
            if key not in CHECKERS:
                raise self.unknown("matrix", key, (*FIELD_KEYS, "include", "exclude"))
            where = f"matrix.{key}"
            if not isinstance(raw, list):
                raise self.fail(where, f"expected a list of values, got {type(raw).__name__}")
            if not raw:
                raise self.fail(where, "the axis is empty; give at least one value or remove it")
            values = [self.value(where, key, item) for item in raw]
            if key == "torch":
                values = self.expand_ranges(where, values)
            axes[key] = tuple(dict.fromkeys(values))
        if not axes and not matrix.get("include"):
            raise self.fail("matrix", "no axes and no include: nothing to run")
        return axes

    def expand_ranges(self, where: str, values: list[str]) -> list[str]:
        try:
            return [one for value in values for one in expand_torch_value(value)]
        except SpecError as exc:
            raise self.fail(where, str(exc)) from None

    def entries(self, matrix: dict[str, Any], kind: str, axes: dict[str, Any]) -> list[dict[str, Any]]:
        raw = matrix.get(kind, [])
        where = f"matrix.{kind}"
        if not isinstance(raw, list):
            raise self.fail(where, f"expected a list of tables, e.g. [[matrix.{kind}]]")
        return [self.entry(f"{where}[{i}]", kind, item, axes) for i, item in enumerate(raw)]

    def entry(self, where: str, kind: str, item: Any, axes: dict[str, Any]) -> dict[str, Any]:
        item = self.table(item, where)
        if not item:
            raise self.fail(where, f"an empty {kind} entry matches everything; remove it")
        allowed = (*FIELD_KEYS, "id") if kind == "include" else tuple(axes)
        out: dict[str, Any] = {}
        for key, raw in item.items():
            if key not in allowed:
                raise self.unknown_axis(where, kind, key, allowed)
            if key == "id":
                out[key] = self.id_value(where, raw)
            elif key == "torch" and isinstance(raw, str) and ".." in raw:
                raise self.fail(f"{where}.torch", "date ranges belong in the [matrix] torch axis")
            else:
                out[key] = self.value(f"{where}.{key}", key, raw)
        return out

    def unknown_axis(self, where: str, kind: str, key: str, allowed: tuple[str, ...]) -> InputError:
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
        what = "unknown axis" if kind == "include" else "not an axis of [matrix]"
        return self.fail(f"{where}.{key}", f"{what} ({hint})")

    def id_value(self, where: str, raw: Any) -> str:
        try:
            return check_id(raw)
        except SpecError as exc:
            raise self.fail(f"{where}.id", str(exc)) from None

    def defaults(self, raw: Any) -> dict[str, Any]:
        table = self.table(raw, "defaults")
        out: dict[str, Any] = {}
        for key, value in table.items():
            if key not in CHECKERS:
                raise self.unknown("defaults", key, FIELD_KEYS)
            out[key] = self.value(f"defaults.{key}", key, value)
        return {**BUILTIN_DEFAULTS, **out}

    def indexes(self, raw: Any) -> dict[str, Index]:
        table = self.table(raw, "indexes")
        out = {name: Index(name, url) for name, url in DEFAULT_INDEXES.items()}
        for name, url in table.items():
            if not isinstance(url, str) or not url:
                raise self.fail(f"indexes.{name}", "expected a URL or a local directory")
            out[name] = Index(name, url)
        return out

    def timeouts(self, raw: Any) -> dict[str, int]:
        table = self.table(raw, "timeouts")
        out = dict(DEFAULT_TIMEOUTS)
        for stage, seconds in table.items():
            if stage not in STAGES:
                raise self.unknown("timeouts", stage, STAGES)
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
                raise self.fail(
                    f"timeouts.{stage}", f"expected a positive number of seconds, got {seconds!r}"
                )
            out[stage] = seconds
        return out

    def template(self, raw: Any) -> str:
        table = self.table(raw, "ids")
        for key in table:
            if key != "template":
                raise self.unknown("ids", key, ("template",))
        template = table.get("template", DEFAULT_TEMPLATE)
        if not isinstance(template, str) or not template:
            raise self.fail("ids.template", "expected a non-empty string")
        names = set(re.findall(r"{(\w*)[^}]*}", template))
        allowed = ("python", "torch", "cuda", "arch", "flash_attn", "vllm", "gpu", "dtype", "eager")
        for name in names:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"did you mean {{{close[0]}}}?" if close else f"expected {', '.join(allowed)}"
                raise self.fail("ids.template", f"unknown placeholder {{{name}}} ({hint})")
        return template

    def sources(self, raw: Any) -> str:
        table = self.table(raw, "sources")
        for key in table:
            if key not in SOURCE_KEYS:
                raise self.unknown("sources", key, SOURCE_KEYS)
        url = table.get("vllm_git", DEFAULT_VLLM_GIT)
        if not isinstance(url, str) or not url:
            raise self.fail("sources.vllm_git", "expected a git URL or a local path")
        return url

    def fetchcontent(self, raw: Any) -> Path | None:
        """``[sources] fetchcontent``: a directory, relative to the matrix file's."""
        value = self.table(raw, "sources").get("fetchcontent")
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail("sources.fetchcontent", "expected the path of a directory of pre-fetched sources")
        return self.path.parent / Path(value).expanduser()

    def vllm_dependencies(self, raw: Any) -> str | Path:
        """``[sources] vllm_dependencies``: ``resolve``, ``none`` or a requirements file."""
        value = self.table(raw, "sources").get("vllm_dependencies", RESOLVE)
        if not isinstance(value, str) or not value:
            raise self.fail("sources.vllm_dependencies", 'expected "resolve", "none" or a requirements file')
        if value in (RESOLVE, "none"):
            return value
        path = self.path.parent / Path(value).expanduser()
        if not path.is_file():
            raise self.fail("sources.vllm_dependencies", f"no requirements file {path}")
        return path

    def applicability_files(self, raw: Any) -> tuple[Path, ...]:
        table = self.table(raw, "applicability")
        for key in table:
            if key != "files":
                raise self.unknown("applicability", key, ("files",))
        files = table.get("files", [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise self.fail("applicability.files", "expected a list of file paths")
        return tuple(self.path.parent / f for f in files)

    def catalogues(self, raw: Any) -> tuple[Path, ...]:
        table = self.table(raw, "classify")
        for key in table:
            if key != "catalogues":
                raise self.unknown("classify", key, ("catalogues",))
        files = table.get("catalogues", [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise self.fail("classify.catalogues", "expected a list of file paths")
        return tuple(self.path.parent / f for f in files)

"""Offline FetchContent: pre-fetched sources mapped to the variables vLLM's CMake reads.

At configure time vLLM's CMake clones oneDNN (CPU builds) and cutlass,
vllm-flash-attn, FlashMLA, qutlass, DeepGEMM, triton_kernels, ... (CUDA
builds) from GitHub, unless a variable points it at a local tree
(``data/fetchcontent.toml`` lists them: ``FETCHCONTENT_SOURCE_DIR_ONEDNN``,
``VLLM_CUTLASS_SRC_DIR``, ...). Air-gapped machines build that way: the user
keeps a directory of those sources (``[sources] fetchcontent = DIR`` or
``VLLM_MATRIX_FETCHCONTENT_DIR``), whose entries are named ``<name>`` or, as
in a copied ``.deps`` dir, ``<name>-src``.

``plan`` reads the revisions the ref pins from its own cmake files (``GIT_TAG``,
with ``${VAR}`` resolved from its ``set()`` calls), finds what was provided and
at which revision (git HEAD and its tags), and says for each project of the
target device where its source will come from: provided (matching or not),
a variable already in the environment, an earlier fetch in
``FETCHCONTENT_BASE_DIR``, or the network. A provided tree at another
revision than the pin builds, but may not compile: that is a warning, never a
silent substitution. ``fetched`` tells afterwards what a configure or build
really cloned.
"""

from __future__ import annotations

import functools
import platform
import re
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from vllm_matrix.gitsource import git_env

_BLOCK = re.compile(r"\bFetchContent_(?:Declare|Populate)\s*\(", re.IGNORECASE)
_SET = re.compile(r"\bset\s*\(\s*([A-Za-z0-9_]+)\s+(\"[^\"]*\"|[^\s)]+)", re.IGNORECASE)
_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')
_HEX = re.compile(r"^[0-9a-f]{7,40}$")
_KEYS = ("GIT_REPOSITORY", "GIT_TAG", "URL")
_COMMENT = re.compile(r'^((?:[^"#]|"[^"]*")*)#.*$')
GIT_TIMEOUT_S = 30


@dataclass(frozen=True)
class Project:
    """One source vLLM's CMake can fetch, and the variable that points it at a local tree."""

    name: str
    variable: str
    devices: tuple[str, ...]
    subdir: str = ""
    machines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pin:
    """What a ref's cmake files pin for one FetchContent name (every value any branch of them sets)."""

    repositories: tuple[str, ...] = ()
    revisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchContentEntry:
    """Where one project's source comes from for this build, beside the revision the ref pins.

    ``source``: ``provided`` (from the offline dir), ``environment`` (the user set the
    variable), ``cached`` (an earlier fetch in FETCHCONTENT_BASE_DIR) or ``network``.
    ``matches``: whether the provided tree is at a pinned revision (None: not checkable).
    """

    name: str
    variable: str
    source: str
    pinned: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()
    provided: str | None = None
    provided_commit: str | None = None
    provided_tags: tuple[str, ...] = ()
    matches: bool | None = None


@dataclass(frozen=True)
class FetchContentFacts:
    """The FetchContent plan of one build: the offline dir, each project, warnings, what was cloned."""

    base_dir: str
    offline_dir: str | None = None
    entries: tuple[FetchContentEntry, ...] = ()
    unused: tuple[str, ...] = ()  # offline dir entries that name no project of this build
    warnings: tuple[str, ...] = ()
    fetched: tuple[str, ...] = ()  # <name>-src dirs that appeared in FETCHCONTENT_BASE_DIR

    @property
    def needs_network(self) -> tuple[str, ...]:
        """The projects this build will clone from the network."""
        return tuple(e.name for e in self.entries if e.source == "network")


@dataclass(frozen=True)
class Plan:
    """The facts, and the variables to export so the build uses the provided trees."""

    facts: FetchContentFacts
    env: dict[str, str] = field(default_factory=dict)


@functools.cache
def projects() -> tuple[Project, ...]:
    """The projects of ``data/fetchcontent.toml``."""
    text = (resources.files("vllm_matrix") / "data" / "fetchcontent.toml").read_text(encoding="utf-8")
    rows = tomllib.loads(text)["project"]
    return tuple(
        Project(
            r["name"], r["variable"], tuple(r["devices"]), r.get("subdir", ""), tuple(r.get("machines", []))
        )
        for r in rows
    )


def key(name: str) -> str:
    """Names compare without case, ``-`` and ``_``: ``oneDNN``, ``onednn-src`` -> ``onednn``."""
    return re.sub(r"[-_]", "", name.lower().removesuffix("-src"))


def cmake_files(tree: Path) -> list[Path]:
    """The ref's CMake sources: CMakeLists.txt and cmake/**/*.cmake."""
    found = [tree / "CMakeLists.txt"] if (tree / "CMakeLists.txt").is_file() else []
    return [*found, *sorted((tree / "cmake").rglob("*.cmake"))] if (tree / "cmake").is_dir() else found


def _strip_comments(text: str) -> str:
    """CMake text without ``# ...`` line comments (a ``#`` inside a quoted string stays)."""
    return "\n".join(_COMMENT.sub(r"\1", line) for line in text.splitlines())


def read_pins(tree: Path) -> dict[str, Pin]:
    """Every FetchContent project the ref's cmake files declare with a revision, by ``key``."""
    texts = [_strip_comments(p.read_text(encoding="utf-8", errors="replace")) for p in cmake_files(tree)]
    variables: dict[str, list[str]] = {}
    for text in texts:
        for name, value in _SET.findall(text):
            variables.setdefault(name, []).append(value.strip('"'))
    found: dict[str, dict[str, list[str]]] = {}
    for text in texts:
        for name, fields in _blocks(text):
            slot = found.setdefault(key(name), {"GIT_REPOSITORY": [], "GIT_TAG": [], "URL": []})
            for field_name, value in fields.items():
                slot[field_name] += [v for v in _expand(value, variables) if v not in slot[field_name]]
    return {
        name: Pin(tuple(f["GIT_REPOSITORY"] or f["URL"]), tuple(f["GIT_TAG"]))
        for name, f in found.items()
        if f["GIT_TAG"] or f["URL"]
    }


def _blocks(text: str) -> list[tuple[str, dict[str, str]]]:
    """(name, {GIT_REPOSITORY/GIT_TAG/URL: value}) for each FetchContent_Declare/Populate call."""
    blocks = []
    for match in _BLOCK.finditer(text):
        end = text.find(")", match.end())
        tokens = [a or b for a, b in _TOKEN.findall(text[match.end() : end if end > 0 else None])]
        if not tokens:
            continue
        fields = {k: tokens[i + 1] for i, k in enumerate(tokens[:-1]) if k in _KEYS}
        blocks.append((tokens[0], fields))
    return blocks


def _expand(value: str, variables: Mapping[str, list[str]], depth: int = 0) -> list[str]:
    """``${VAR}`` -> each value the cmake files set it to (unknown variables stay as written)."""
    match = _VAR.search(value)
    options = variables.get(match.group(1), []) if match else []
    if match is None or not options or depth > 4:
        return [value]
    out: list[str] = []
    for option in options:
        for expanded in _expand(value.replace(match.group(0), option, 1), variables, depth + 1):
            if expanded not in out:
                out.append(expanded)
    return out


def offline_entries(directory: Path | None) -> dict[str, Path]:
    """The offline dir's source trees by ``key`` (``cutlass``, ``cutlass-src`` ...)."""
    if directory is None or not directory.is_dir():
        return {}
    return {key(p.name): p for p in sorted(directory.iterdir()) if p.is_dir()}


def git_revision(path: Path) -> tuple[str | None, tuple[str, ...]]:
    """The HEAD commit of a checkout and the tags pointing at it; (None, ()) if it is not one."""
    commit = _git(path, "rev-parse", "--verify", "-q", "HEAD")
    if commit is None or not _HEX.match(commit):
        return None, ()
    tags = _git(path, "tag", "--points-at", "HEAD") or ""
    return commit, tuple(t for t in tags.splitlines() if t)


def at_pin(path: Path, commit: str | None, tags: tuple[str, ...], pinned: tuple[str, ...]) -> bool | None:
    """Whether a checkout at ``commit`` is at one of ``pinned`` (a commit, a tag, a branch it knows)."""
    if commit is None or not pinned:
        return None
    for pin in pinned:
        if pin in tags or (_HEX.match(pin.lower()) and commit.startswith(pin.lower())):
            return True
        if _git(path, "rev-parse", "--verify", "-q", f"{pin}^{{commit}}") == commit:
            return True
    return False


def _git(path: Path, *args: str) -> str | None:
    if not (path / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True,
                              env=git_env(), timeout=GIT_TIMEOUT_S, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def sources_in(base_dir: Path) -> set[str]:
    """The ``<name>-src`` directories FetchContent has populated in ``base_dir``."""
    return {p.name for p in base_dir.iterdir() if p.name.endswith("-src")} if base_dir.is_dir() else set()


def fetched(base_dir: Path, before: set[str]) -> tuple[str, ...]:
    """The projects cloned into ``base_dir`` since ``before`` was taken."""
    return tuple(sorted(name.removesuffix("-src") for name in sources_in(base_dir) - before))


def plan(tree: Path, *, device: str, base_dir: Path, offline_dir: Path | None,
         environ: Mapping[str, str], machine: str | None = None) -> Plan:  # fmt: skip
    """Where each project of ``device``'s build gets its source, and the variables that say so."""
    machine = machine or platform.machine()
    pins, offline = read_pins(tree), offline_entries(offline_dir)
    cached = {key(name) for name in sources_in(base_dir)}
    wanted = [p for p in projects() if device in p.devices and (not p.machines or machine in p.machines)]
    entries, env, warnings = [], {}, []
    for project in wanted:
        entry, value = _entry(project, pins.get(key(project.name), Pin()), offline, cached, environ)
        entries.append(entry)
        if value is not None:
            env[project.variable] = value
        warnings += _warnings(entry, offline_dir)
    used = {key(p.name) for p in wanted}
    unused = tuple(sorted(path.name for name, path in offline.items() if name not in used))
    facts = FetchContentFacts(str(base_dir), str(offline_dir) if offline_dir else None, tuple(entries),
                              unused, tuple(warnings))  # fmt: skip
    return Plan(facts, env)


def _entry(project: Project, pin: Pin, offline: Mapping[str, Path], cached: set[str],
           environ: Mapping[str, str]) -> tuple[FetchContentEntry, str | None]:  # fmt: skip
    """One project's entry, and the variable's value to export (None: export nothing)."""
    base = FetchContentEntry(project.name, project.variable, "network", pin.revisions, pin.repositories)
    user = environ.get(project.variable)
    tree = Path(user) if user else offline.get(key(project.name))
    if tree is None:
        return replace(base, source="cached" if key(project.name) in cached else "network"), None
    commit, tags = git_revision(tree)
    matches = at_pin(tree, commit, tags, pin.revisions)
    entry = replace(base, source="environment" if user else "provided", provided=str(tree),
                     provided_commit=commit, provided_tags=tags, matches=matches)  # fmt: skip
    if user:
        return entry, None
    inner = tree / project.subdir if project.subdir and (tree / project.subdir).is_dir() else tree
    return entry, str(inner)


def _warnings(entry: FetchContentEntry, offline_dir: Path | None) -> list[str]:
    pinned = " or ".join(entry.pinned) or "nothing readable"
    if entry.source in ("provided", "environment") and entry.matches is False:
        at = entry.provided_commit or "?"
        tags = f" ({', '.join(entry.provided_tags)})" if entry.provided_tags else ""
        return [f"{entry.name}: {entry.provided} is at {at[:12]}{tags}, but this vLLM pins {pinned}"]
    if entry.source in ("provided", "environment") and entry.matches is None:
        return [f"{entry.name}: cannot check the revision of {entry.provided} (not a git checkout); "
                f"this vLLM pins {pinned}"]  # fmt: skip
    if entry.source == "network" and offline_dir is not None and entry.pinned:
        where = " or ".join(entry.repositories)
        return [f"{entry.name}: not in {offline_dir}: the build fetches {where} at {pinned}"]
    return []

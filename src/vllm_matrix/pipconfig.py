"""pip's configured find-links directory: where an offline or mirrored machine keeps its wheels.

uv, unlike pip, does not read pip's configuration. So when the user has not said
where release torch wheels come from (``VLLM_MATRIX_INDEX_RELEASE``), the CLI and
the Nox sessions use pip's find-links directory for them, and say so.

The configuration is read the way pip reads it (``PIP_FIND_LINKS``, then the
config files, the last one to set the key winning), without running pip: a Nox
venv made by uv has no pip. Standard library only: the noxfile imports it.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path

RELEASE_ENV = "VLLM_MATRIX_INDEX_RELEASE"


def config_files(environ: Mapping[str, str], home: Path, prefix: Path) -> list[Path]:
    """pip's config files, lowest precedence first: global, user, site, then ``PIP_CONFIG_FILE``."""
    xdg_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs) if d] + [Path("/etc/pip.conf")]
    xdg_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf", prefix / "pip.conf"]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return files


def configured_value(environ: Mapping[str, str], files: list[Path]) -> str:
    """``find-links`` as pip would see it: the environment first, else the last file that sets it."""
    if environ.get("PIP_FIND_LINKS"):
        return environ["PIP_FIND_LINKS"]
    value = ""
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install", "download"):
            if parser.has_option(section, "find-links"):
                value = parser.get(section, "find-links")
                break
    return value


def find_links(environ: Mapping[str, str] | None = None) -> Path | None:
    """The first existing directory among pip's configured find-links, else None."""
    env = os.environ if environ is None else environ
    value = configured_value(env, config_files(env, Path.home(), Path(sys.prefix)))
    for entry in value.split():
        path = Path(entry.removeprefix("file://"))
        if path.is_dir():
            return path
    return None


def release_override(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{VLLM_MATRIX_INDEX_RELEASE: <pip's find-links>}`` when the user set none and pip has one."""
    env = os.environ if environ is None else environ
    if env.get(RELEASE_ENV):
        return {}
    found = find_links(env)
    return {RELEASE_ENV: str(found)} if found else {}

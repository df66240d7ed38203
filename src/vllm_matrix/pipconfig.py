"""pip's configured find-links directory: where an offline or mirrored machine keeps its wheels.

uv, unlike pip, does not read pip's configuration. So when the user has not said
where release torch wheels come from (``VLLM_MATRIX_INDEX_RELEASE``), the CLI and
the Nox sessions use pip's find-links directory for them, and say so. Standard
library only: the noxfile imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

RELEASE_ENV = "VLLM_MATRIX_INDEX_RELEASE"


def find_links(python: str = sys.executable) -> Path | None:
    """pip's ``global.find-links`` when it names an existing directory, else None."""
    try:
        out = subprocess.run(
            [python, "-m", "pip", "config", "get", "global.find-links"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out) if out and Path(out).is_dir() else None


def release_override(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{VLLM_MATRIX_INDEX_RELEASE: <pip's find-links>}`` when the user set none and pip has one."""
    env = os.environ if environ is None else environ
    if env.get(RELEASE_ENV):
        return {}
    found = find_links()
    return {RELEASE_ENV: str(found)} if found else {}

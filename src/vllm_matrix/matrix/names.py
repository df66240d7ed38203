"""Names every layer shares: the stages a cell goes through, and the names of runs.

``STAGES`` is the one ordered list of stage names. The matrix file's ``[timeouts]``
keys, the catalogue's ``stages`` and the runner's pipeline (``stages.pipeline``)
all take their names from here; a test checks that the pipeline implements
exactly these, in this order.
"""

from __future__ import annotations

import datetime as dt
import re

# verify = import + torch-not-replaced check + arch audit; suites = kernel checks and generation.
STAGES = ("resolve", "venv", "torch", "source", "prepare", "build", "verify", "suites")
DEFAULT_TIMEOUTS: dict[str, int] = {
    "resolve": 300,
    "venv": 300,
    "torch": 1800,
    "source": 1800,
    "prepare": 1800,
    "build": 4 * 3600,
    "verify": 600,
    "suites": 3600,
}
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RUN_NAME_FORMAT = "%Y%m%dT%H%M%SZ"


def new_run_name(now: dt.datetime | None = None) -> str:
    """A run name that sorts by time: ``20261129T181000Z`` (UTC)."""
    return (now or dt.datetime.now(dt.UTC)).strftime(RUN_NAME_FORMAT)


def is_run_name(name: str) -> bool:
    """A run name is a directory name: letters, digits, ``.``, ``_``, ``-``."""
    return bool(RUN_NAME.match(name))

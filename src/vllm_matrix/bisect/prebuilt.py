"""Prebuilt vLLM for the candidates, so that the window narrows without building vLLM.

Where a candidate has a prebuilt vLLM, its step can install that wheel over the candidate's
torch instead of building: for torch nightly dates, the vLLM dev wheels PyTorch publishes on
its nightly index with torch's dates (``nightly-vllm:<date>``), or one prebuilt vLLM the user
names installed over every nightly (``--prebuilt vllm-commit:<sha>``: wheel over nightly);
for vLLM commits, vLLM's per-commit wheel index (``vllm-commit:<sha>``). Lookups are lazy and
remembered: a commit's wheel is asked for only when the loop wants to test that commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vllm_matrix.bisect.space import Candidate, Space
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.matrix.specs import SpecError, parse_source
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import IndexUnavailable, NightlyError
from vllm_matrix.nightly.listing import DEFAULT_PLATFORM, list_nightlies
from vllm_matrix.prebuilt import commits

Say = Callable[[str], None]
AUTO, NONE = "auto", "none"


@dataclass
class Prebuilt:
    """Which candidates have a prebuilt vLLM, and the ``vllm`` value of their prebuilt step."""

    what: str
    lookup: Callable[[Candidate], str | None]
    memo: dict[str, str | None] = field(default_factory=dict)

    def __call__(self, candidate: Candidate) -> str | None:
        if candidate.label not in self.memo:
            self.memo[candidate.label] = self.lookup(candidate)
        return self.memo[candidate.label]


def find(choice: str, config: MatrixConfig, cell: Cell, space: Space, environ: Mapping[str, str],
         client: IndexClient, say: Say) -> Prebuilt | None:  # fmt: skip
    """The prebuilt vLLM of this bisection: ``--prebuilt auto`` (default), ``none``, or one source."""
    if choice not in (AUTO, NONE):
        return _fixed(choice, space)
    if choice == NONE or not cell.source.vllm_tree:  # only a vLLM built from its tree has a prebuilt twin
        return None
    if space.kind == "torch-nightly":
        return _dev_wheels(config, cell, environ, client, say)
    if space.kind == "vllm-commit":
        return _commit_wheels(config, cell, environ, client, say)
    return None


def _fixed(choice: str, space: Space) -> Prebuilt:
    try:
        source = parse_source(choice)
    except SpecError as exc:
        raise InputError(f"bisect --prebuilt: {exc}") from None
    if source.builds:
        raise InputError(f"bisect --prebuilt: {choice} is built from source, not prebuilt")
    if space.field != "torch":
        raise InputError("bisect --prebuilt SOURCE installs one vLLM over each torch: it needs --over torch")
    return Prebuilt(f"{choice} over each nightly", lambda _: choice)


def _dev_wheels(config: MatrixConfig, cell: Cell, environ: Mapping[str, str], client: IndexClient,
                say: Say) -> Prebuilt | None:  # fmt: skip
    index = config.index("nightly").effective(environ)
    try:
        listing = list_nightlies(cell.cuda, cell.python, index, package="vllm", client=client)
    except NightlyError as exc:
        say(f"no prebuilt vLLM for the dates: {exc}")
        return None
    dates = {w.date.isoformat() for w in listing.nightlies() if w.date is not None}
    if not dates:
        return None
    return Prebuilt(f"the vLLM dev wheels of {listing.page_url}",
                    lambda c: f"nightly-vllm:{c.label}" if c.label in dates else None)  # fmt: skip


def _commit_wheels(config: MatrixConfig, cell: Cell, environ: Mapping[str, str], client: IndexClient,
                   say: Say) -> Prebuilt:  # fmt: skip
    base = config.index("vllm_wheels").effective(environ)
    reachable = [True]

    def lookup(candidate: Candidate) -> str | None:
        sha = str(candidate.value).partition(":")[2]
        if not reachable[0]:
            return None
        try:
            commits.resolve(sha, cell.cuda, cell.python, DEFAULT_PLATFORM, base, client)
        except IndexUnavailable as exc:
            reachable[0] = False
            say(f"vLLM's per-commit wheel index is unreachable, so every step builds: {exc}")
            return None
        except NightlyError:
            return None
        return f"vllm-commit:{sha}"

    return Prebuilt(f"vLLM's per-commit wheels on {base}", lookup)

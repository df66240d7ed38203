"""The FetchContent plan of a source build, shared by the build stage and the configure-only preflight.

Before CMake runs: where each project the ref's CMake fetches will come from
(``fetchcontent.plan``: the offline dir of ``[sources] fetchcontent`` /
``VLLM_MATRIX_FETCHCONTENT_DIR``, a variable the user set, an earlier fetch,
the network), written to the stage log, its warnings printed, recorded as
``state.fetchcontent``, and the variables that point CMake at the provided
trees added to the build environment. Afterwards: what CMake cloned from the
network, whether the step passed or failed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vllm_matrix import buildenv, fetchcontent
from vllm_matrix.stages.base import StageContext, StageError


def offline_dir(ctx: StageContext) -> Path | None:
    """The offline sources dir; one that does not exist is the machine's problem (StageError)."""
    found = ctx.config.fetchcontent_dir(ctx.env)
    if found is not None and not found.is_dir():
        raise StageError(ctx.stage, f"the offline FetchContent dir {found} is not a directory "
                                    "([sources] fetchcontent or VLLM_MATRIX_FETCHCONTENT_DIR)")  # fmt: skip
    return found


def with_plan(ctx: StageContext, tree: Path, env: buildenv.BuildEnv) -> buildenv.BuildEnv:
    """``env`` plus the variables of the FetchContent plan, which is recorded, logged and warned about."""
    base = Path(env.env["FETCHCONTENT_BASE_DIR"])
    device = buildenv.target_device(ctx.cell.cuda)
    offline = offline_dir(ctx)
    plan = fetchcontent.plan(tree, device=device, base_dir=base, offline_dir=offline, environ=ctx.env)
    ctx.state.fetchcontent = plan.facts
    for entry in plan.facts.entries:
        ctx.note(f"[fetchcontent] {entry.name} ({entry.variable}): {describe(entry)}")
    for warning in plan.facts.warnings:
        ctx.note(f"[fetchcontent] warning: {warning}")
        print(f"[{ctx.cell.id}] warning: {warning}", file=sys.stderr, flush=True)
    reasons = {name: "a provided tree of the offline FetchContent dir" for name in plan.env}
    return buildenv.BuildEnv({**env.env, **plan.env}, {**env.reasons, **reasons})


def describe(entry: fetchcontent.FetchContentEntry) -> str:
    """One phrase: where the source comes from, and the pin beside it."""
    pinned = " or ".join(entry.pinned) or "no pin read"
    if entry.source in ("provided", "environment"):
        commit = entry.provided_commit[:12] if entry.provided_commit else "unknown revision"
        at = ", ".join([commit, *entry.provided_tags])
        verdict = {True: "at the pin", False: "NOT at the pin", None: "revision not checkable"}[entry.matches]
        return f"{entry.source} {entry.provided} ({at}; {verdict}); pinned {pinned}"
    if entry.source == "cached":
        return f"an earlier fetch in FETCHCONTENT_BASE_DIR; pinned {pinned}"
    return f"the network ({' or '.join(entry.repositories) or 'repository not read'}); pinned {pinned}"


@contextmanager
def watching_fetches(ctx: StageContext, base_dir: Path) -> Iterator[None]:
    """Record in ``state.fetchcontent.fetched`` what appeared in FETCHCONTENT_BASE_DIR during the block."""
    before = fetchcontent.sources_in(base_dir)
    try:
        yield
    finally:
        cloned = fetchcontent.fetched(base_dir, before)
        if ctx.state.fetchcontent is not None:
            ctx.state.fetchcontent = dataclasses.replace(ctx.state.fetchcontent, fetched=cloned)
        if cloned:
            ctx.note(f"[fetchcontent] cloned from the network into {base_dir}: {', '.join(cloned)}")

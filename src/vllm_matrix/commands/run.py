"""``vllm-matrix run``: run cells (by id or glob, or ``--all``) into ``reports/<run>/``.

Exit codes: 0 every selected cell passed or was skipped (experimental cells'
failures included), 1 some non-experimental cell failed, 2 bad input, 3 some
cell hit a harness error, 130 interrupted (finished cells stay recorded;
``--resume`` continues).
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

from vllm_matrix import __version__, hardware, pipconfig
from vllm_matrix.commands import load_cells, report
from vllm_matrix.errors import InputError
from vllm_matrix.matrix import expand
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.names import new_run_name
from vllm_matrix.results import RunStore, check_run_name, latest_run, reports_dir, utc_now
from vllm_matrix.runner import Options, Runner, exit_code
from vllm_matrix.workdir import Workdir

RUN_ENV = "VLLM_MATRIX_RUN"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run", help="run cells end to end (resolve, venv, torch, source, build, verify, suites)"
    )
    parser.add_argument("cells", nargs="*", metavar="ID", help="cell ids or globs (see `vllm-matrix plan`)")
    parser.add_argument("--all", action="store_true", help="every cell of the matrix")
    parser.add_argument("--force", action="store_true", help="also run cells whose GPU this machine lacks")
    parser.add_argument(
        "--run", metavar="NAME", help="run name (default: $VLLM_MATRIX_RUN, else a UTC timestamp)"
    )
    parser.add_argument("--resume", action="store_true", help="continue a run; finished cells are kept")
    parser.add_argument(
        "--no-cache", action="store_true", help="run cells whose resolved inputs already have a verdict"
    )
    parser.add_argument(
        "--workdir", metavar="DIR", help="work dir (default: $VLLM_MATRIX_WORKDIR, else user cache)"
    )
    parser.add_argument(
        "--reports", metavar="DIR", help="reports dir (default: $VLLM_MATRIX_REPORTS, else ./reports)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config, cells = load_cells(args)
    store = _store(args)
    selected = select(cells, args.cells, args.all, store if args.resume else None)
    work = Workdir.resolve(args.workdir)
    hw = hardware.detect()
    options = Options(force=args.force, resume=args.resume, no_cache=args.no_cache)
    runner = Runner(config, store, work, hw, options, environ=runner_environ(), progress=_say)
    meta = _run_meta(store, selected, resumed=args.resume)
    meta |= {"matrix": str(config.path), "workdir": str(work.root), "hardware": hw.to_dict(),
             "uv_cache": str(work.uv_cache) if work.uv_cache else None}  # fmt: skip
    store.write_meta(meta)
    _say(f"run {store.name}: {len(selected)} cells -> {store.root}")
    with work.lock(say=_say), _sigterm_as_interrupt():
        try:
            results = runner.run(selected)
        except KeyboardInterrupt:
            store.write_meta({**meta, "status": "interrupted", "interrupted_at": utc_now()})
            _say(f"interrupted; continue with: vllm-matrix run --resume --run {store.name}")
            raise
    store.write_meta({**meta, "status": "complete", "finished_at": utc_now()})
    sys.stdout.write(report.render_table(results, store.name))
    return exit_code(results)


def runner_environ() -> dict[str, str]:
    """This process's environment, plus pip's find-links for release torch wheels when none is set."""
    override = pipconfig.release_override()
    for name, where in override.items():
        _say(f"release torch wheels from pip's find-links {where} (set {name} to change)")
    return {**os.environ, **override}


def _run_meta(store: RunStore, selected: Sequence[Cell], *, resumed: bool) -> dict[str, Any]:
    """run.json for this invocation, keeping what earlier invocations of the same run wrote.

    One run can be filled by several invocations (a nox session per cell), so
    the selection is the union, in order.
    """
    meta = store.read_meta()
    ids = list(dict.fromkeys([*meta.get("selected", []), *(c.id for c in selected)]))
    meta |= {"run": store.name, "selected": ids, "tool_version": __version__, "status": "running",
             "host": platform.node()}  # fmt: skip
    meta.setdefault("started_at", utc_now())
    if resumed:
        meta["resumed_at"] = [*meta.get("resumed_at", []), utc_now()]
    return meta


def _store(args: argparse.Namespace) -> RunStore:
    reports = reports_dir(args.reports)
    name = args.run or os.environ.get(RUN_ENV)
    if args.resume and not name:
        return RunStore(latest_run(reports))
    name = check_run_name(name or new_run_name())
    if args.resume and not (reports / name).is_dir():
        raise InputError(f"--resume: no run {name!r} under {reports}")
    return RunStore(reports / name)


def select(
    cells: Sequence[Cell], patterns: Sequence[str], everything: bool, resumed: RunStore | None
) -> list[Cell]:
    """The cells to run: ``--all``, the given globs, or (on ``--resume`` alone) the run's own selection."""
    if everything:
        return list(cells)
    if not patterns and resumed is not None:
        patterns = resumed.read_meta().get("selected", [])
    if not patterns:
        raise InputError("run: name cell ids or globs, or pass --all (list them with `vllm-matrix plan`)")
    by_id = {c.id for c in cells}
    for pattern in patterns:
        if not expand.select(cells, [pattern]):
            close = difflib.get_close_matches(pattern, sorted(by_id), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (see `vllm-matrix plan --format ids`)"
            raise InputError(f"run: no cell matches {pattern!r}{hint}")
    return expand.select(cells, patterns)


def _say(line: str) -> None:
    print(f"vllm-matrix: {line}", file=sys.stderr, flush=True)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """CI cancels with SIGTERM: treat it like Ctrl-C so the running cell is recorded as interrupted."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

"""``vllm-matrix bisect CELL --good DATE --bad DATE``: the first bad torch nightly for a cell.

Both ends are checked first (mozregression's habit); dates missing from the
index are not candidates, and dates whose cell is skipped are dropped with a
warning. Every verdict is saved to the run's ``bisect.json``: an interrupted
bisection continues with the same command. Exit codes: 0 the first bad date
was found, 2 bad input (unknown cell, ends that are not good/bad), 3 harness
error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from vllm_matrix import bisect_nightly, hardware
from vllm_matrix.commands import load_cells
from vllm_matrix.commands.run import _say, _sigterm_as_interrupt, runner_environ
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.specs import SpecError, parse_date
from vllm_matrix.results import RunStore, check_run_name, reports_dir
from vllm_matrix.runner import Options, Runner
from vllm_matrix.workdir import Workdir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bisect", help="find the first bad torch nightly for one cell")
    parser.add_argument("cell", metavar="ID", help="the cell to bisect (see `vllm-matrix plan`)")
    parser.add_argument("--good", required=True, metavar="YYYY-MM-DD", help="a nightly date that passes")
    parser.add_argument("--bad", required=True, metavar="YYYY-MM-DD", help="a later nightly date that fails")
    parser.add_argument("--run", metavar="NAME", help="run name (default: bisect_<cell>_<good>_<bad>)")
    parser.add_argument("--no-check-ends", action="store_true", help="trust --good and --bad without testing")
    parser.add_argument("--force", action="store_true", help="run even if this machine lacks the cell's GPU")
    parser.add_argument(
        "--pytorch-repo", metavar="DIR", type=Path,
        help="a local pytorch checkout holding the nightly branch: adds the main-branch compare URL",
    )  # fmt: skip
    parser.add_argument("--workdir", metavar="DIR")
    parser.add_argument("--reports", metavar="DIR")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config, cells = load_cells(args)
    by_id = {c.id: c for c in cells}
    if args.cell not in by_id:
        raise InputError(f"bisect: no cell {args.cell!r} (see `vllm-matrix plan --format ids`)")
    ends = bisect_nightly.Ends(by_id[args.cell], _date("--good", args.good), _date("--bad", args.bad))
    candidates = bisect_nightly.candidate_dates(config, ends, dict(os.environ))
    name = check_run_name(args.run or f"bisect_{args.cell}_{args.good}_{args.bad}")
    store = RunStore(reports_dir(args.reports) / name)
    work = Workdir.resolve(args.workdir)
    runner = Runner(config, store, work, hardware.detect(), Options(force=args.force),
                    environ=runner_environ(), progress=_say)  # fmt: skip
    _say(f"bisecting {args.cell} over {len(candidates)} nightlies, {args.good} .. {args.bad} -> {store.root}")
    with work.lock(say=_say), _sigterm_as_interrupt():
        try:
            outcome, results = bisect_nightly.run_bisection(
                runner, ends, candidates, store.root / "bisect.json", _say
            )
        except KeyboardInterrupt:
            _say(f"interrupted; continue with: {_resume_command(args)}")
            raise
    info = bisect_nightly.torch_commits(results, outcome)
    info["main_compare_url"] = bisect_nightly.main_branch_compare(info, args.pytorch_repo)
    sys.stdout.write(json.dumps(info, indent=1) + "\n" if args.json else _summary(args.cell, info))
    return 0


def _date(flag: str, text: str) -> dt.date:
    try:
        return parse_date(text)
    except SpecError as exc:
        raise InputError(f"bisect {flag}: {exc}") from None


def _resume_command(args: argparse.Namespace) -> str:
    parts = ["vllm-matrix", "bisect", args.cell, "--good", args.good, "--bad", args.bad]
    if args.run:
        parts += ["--run", args.run]
    return " ".join(parts)


def _summary(cell_id: str, info: dict[str, Any]) -> str:
    lines = [
        f"{cell_id}: last good nightly {info['last_good']} (torch {info['good_torch']}), "
        f"first bad {info['first_bad']} (torch {info['bad_torch']}); {info['tested']} cells run"
    ]
    if info["skipped"]:
        lines.append(f"untestable in between (skipped): {', '.join(info['skipped'])}")
    for key in ("main_compare_url", "nightly_compare_url"):
        if info.get(key):
            lines.append(f"{key.replace('_', ' ')}: {info[key]}")
    return "\n".join(lines) + "\n"

"""``vllm-matrix bisect ID --good G --bad B``: the first bad torch nightly, vLLM commit or listed value.

What varies is ``--over``: ``torch`` (nightly dates on the cell's index, the default),
``vllm`` (commits between two refs in the mirror) or a list of values (``--over
"wheel:vllm==0.30.0,wheel:vllm==0.31.0"``, ``--over "flash_attn=2,3,4"``). What is bad is
``--bad-on`` (default: the same failure as the bad end). Every step is an ordinary cell of
the run, reused through the result cache; the state is the run's ``bisect.json``, so the
same command resumes an interrupted bisection (it prints that command).

Exit codes: 0 the first bad was found, 7 only untestable candidates remain between last
good and first bad, 8 the ends are not as claimed (the bad end is not bad, an end cannot be
tested), 2 bad input (a good end that is bad included), 3 harness error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import shlex
import sys
from pathlib import Path

from vllm_matrix import hardware
from vllm_matrix.bisect import prebuilt, session
from vllm_matrix.bisect.compare import Messages
from vllm_matrix.bisect.result import Links, Outcome, render_text
from vllm_matrix.commands import load_cells
from vllm_matrix.commands.run import _say, _sigterm_as_interrupt, runner_environ
from vllm_matrix.errors import EXIT_BISECT_ONLY_SKIPS, EXIT_OK, InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.commits import GITHUB_API
from vllm_matrix.results import RunStore, check_run_name, reports_dir, utc_now
from vllm_matrix.runner import Options, Runner
from vllm_matrix.workdir import Workdir

GITHUB_API_ENV = "VLLM_MATRIX_GITHUB_API"
# Options that shape the question, with their defaults: the resume command repeats those that were set.
QUESTION_FLAGS: dict[str, object] = {
    "good": None, "bad": None, "over": "torch", "bad_on": None, "retries": 0, "prebuilt": prebuilt.AUTO,
    "url_template": None, "pytorch_repo": None, "github_api": None, "workdir": None, "reports": None,
}  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bisect", help="find the first bad torch nightly, vLLM commit or value for a cell"
    )
    parser.add_argument("cell", metavar="ID", help="the cell to bisect (see `vllm-matrix plan`)")
    parser.add_argument("--good", metavar="END", help="a nightly date, vLLM ref or listed value that is good")
    parser.add_argument("--bad", metavar="END", help="a later one that is bad")
    parser.add_argument(
        "--over", default="torch", metavar="WHAT",
        help='torch (nightly dates, default), vllm (commits), or "wheel:vllm==0.30.0,..." or "FIELD=V1,V2"',
    )  # fmt: skip
    parser.add_argument(
        "--bad-on", metavar="RULE",
        help="class=NAME, test=ID, stage=NAME or decode_tok_s<0.9*good (default: the bad end's failure)",
    )  # fmt: skip
    parser.add_argument(
        "--retries", type=int, default=0, metavar="N", help="run a step that fails N more times"
    )
    parser.add_argument(
        "--prebuilt", default=prebuilt.AUTO, metavar="auto|none|SOURCE",
        help="narrow on prebuilt vLLM first (auto), never (none), or on this prebuilt source over each torch",
    )  # fmt: skip
    parser.add_argument(
        "--url-template", metavar="URL",
        help="where nightlies older than the index's window are: a wheel URL with {yyyymmdd} (or {date}), "
        "{cuda}, {python_tag}",
    )  # fmt: skip
    parser.add_argument("--run", metavar="NAME", help="run name (default: bisect_<cell>_<good>_<bad>)")
    parser.add_argument("--force", action="store_true", help="run even if this machine lacks the cell's GPU")
    parser.add_argument("--no-cache", action="store_true", help="run every step, even one decided before")
    parser.add_argument(
        "--pytorch-repo", metavar="DIR", type=Path,
        help="a local pytorch checkout with the nightly branch: nightly commit messages for the main range",
    )  # fmt: skip
    parser.add_argument(
        "--github-api", metavar="URL",
        help=f"a GitHub-shaped API for nightly commit messages (default: ${GITHUB_API_ENV} or {GITHUB_API})",
    )  # fmt: skip
    parser.add_argument("--workdir", metavar="DIR")
    parser.add_argument("--reports", metavar="DIR")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    config, cells = load_cells(args)
    question = session.Question(find_cell(cells, args.cell), args.over, args.good, args.bad, args.bad_on,
                                args.retries, args.prebuilt, args.url_template)  # fmt: skip
    session.check(question, config)
    store = RunStore(reports_dir(args.reports) / check_run_name(args.run or session.run_dir_name(question)))
    work = Workdir.resolve(args.workdir)
    client = _client(work)
    with work.lock(say=_say), _sigterm_as_interrupt():
        found = session.space(question, config, work, dict(os.environ), store.root, client)
        runner = _runner(config, store, work, args)
        _write_meta(store, config, work, "running")
        try:
            outcome = session.run(question, found, config, runner, _links(args, config, runner), client, _say)
        except KeyboardInterrupt:
            _write_meta(store, config, work, "interrupted")
            _say(f"interrupted; resume with: {resume_command(args, store.name)}")
            raise
    _write_meta(store, config, work, "complete")
    _print(outcome, store, args.json)
    return EXIT_OK if outcome.status == "found" else EXIT_BISECT_ONLY_SKIPS


def find_cell(cells: list[Cell], wanted: str) -> Cell:
    """The cell with id ``wanted``; InputError with "did you mean" otherwise."""
    by_id = {c.id: c for c in cells}
    if wanted in by_id:
        return by_id[wanted]
    close = difflib.get_close_matches(wanted, sorted(by_id), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (see `vllm-matrix plan --format ids`)"
    raise InputError(f"bisect: no cell {wanted!r}{hint}")


def _runner(config: MatrixConfig, store: RunStore, work: Workdir, args: argparse.Namespace) -> Runner:
    options = Options(force=args.force, no_cache=args.no_cache)
    return Runner(config, store, work, hardware.detect(), options, environ=runner_environ(), progress=_say)


def _client(work: Workdir) -> IndexClient:
    """The index client the resolve stage uses too: the same page cache, so both see one listing."""
    return IndexClient(cache_dir=work.root / "index-cache")


def _links(args: argparse.Namespace, config: MatrixConfig, runner: Runner) -> Links:
    api = args.github_api or os.environ.get(GITHUB_API_ENV) or GITHUB_API
    messages = Messages(args.pytorch_repo, api, IndexClient(timeout_s=10.0, retries=1, backoff_s=0.5))
    return Links(messages, config.vllm_git_url(runner.environ))


def _write_meta(store: RunStore, config: MatrixConfig, work: Workdir, status: str) -> None:
    """run.json, so the run directory reads like any other (its cells are the steps)."""
    meta = store.read_meta()
    meta |= {"run": store.name, "matrix": str(config.path), "workdir": str(work.root), "status": status,
             "kind": "bisect"}  # fmt: skip
    meta.setdefault("started_at", utc_now())
    if status != "running":
        meta[f"{status}_at"] = utc_now()
    store.write_meta(meta)


def resume_command(args: argparse.Namespace, run_name: str) -> str:
    """The exact command that continues this bisection (the same question, the same run)."""
    parts = ["vllm-matrix", *(["--matrix", args.matrix] if getattr(args, "matrix", None) else [])]
    parts += ["bisect", args.cell]
    for name, default in QUESTION_FLAGS.items():
        value = getattr(args, name)
        if value is not None and value != default:
            parts += [f"--{name.replace('_', '-')}", str(value)]
    parts += ["--run", run_name]
    parts += [flag for flag in ("--force", "--no-cache") if getattr(args, flag[2:].replace("-", "_"))]
    return shlex.join(parts)


def _print(outcome: Outcome, store: RunStore, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"run_dir": str(store.root), **outcome.to_dict()}, indent=1) + "\n")
    else:
        sys.stdout.write(render_text(outcome))

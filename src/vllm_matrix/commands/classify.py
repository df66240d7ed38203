"""``vllm-matrix classify LOGFILE [--stage STAGE] [--catalogue FILE ...] [--json]``.

Prints the failure class of a log, the decisive line(s) with their line
number, and a hint. ``LOGFILE`` may be ``-`` for standard input. Extra
catalogues come from the matrix file's ``[classify] catalogues`` (when a
matrix file is named with ``--matrix`` / ``$VLLM_MATRIX_FILE`` or ./matrix.toml
exists) and then from each ``--catalogue``. Exit code 0 when the log was
classified (whatever the class), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vllm_matrix.classify import engine as classify
from vllm_matrix.classify.engine import Diagnosis
from vllm_matrix.commands import optional_config
from vllm_matrix.errors import EXIT_OK
from vllm_matrix.matrix.names import STAGES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "classify",
        help="name the failure class of a stage's log, with the decisive line",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("logfile", metavar="LOGFILE", help="the log of a failed stage ('-': stdin)")
    parser.add_argument("--stage", choices=STAGES, help="the stage that failed (narrows the classes)")
    parser.add_argument(
        "--catalogue", action="append", default=[], metavar="FILE", help="extra catalogue file (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    extra = [*_matrix_catalogues(args), *(Path(p) for p in args.catalogue)]
    if args.logfile == "-":
        diagnosis = classify.classify_lines(sys.stdin.buffer, args.stage, extra)
    else:
        diagnosis = classify.classify_file(Path(args.logfile), args.stage, extra)
    text = json.dumps(diagnosis.to_dict(), indent=1) + "\n" if args.json else render(diagnosis)
    sys.stdout.write(text)
    return EXIT_OK


def _matrix_catalogues(args: argparse.Namespace) -> tuple[Path, ...]:
    """The matrix file's catalogues, if a matrix file is named or ./matrix.toml exists."""
    cfg = optional_config(args)
    return cfg.catalogues if cfg is not None else ()


def render(d: Diagnosis) -> str:
    """The class and line number, the evidence indented, then the hint and any notes."""
    where = f" (line {d.line_number})" if d.line_number is not None else ""
    out = [f"{d.klass}{where}"]
    out += [f"  {line}" for line in d.evidence]
    out.append(f"hint: {d.hint}")
    out += [f"note: {note}" for note in d.notes]
    return "\n".join(out) + "\n"

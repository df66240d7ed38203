"""The ``vllm-matrix`` command: one parser, one place where errors become exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vllm_matrix import __version__
from vllm_matrix.errors import EXIT_HARNESS, EXIT_INPUT, MatrixError

# Each module under vllm_matrix.commands adds one subcommand (see its ``register``).
COMMANDS = ("plan", "nightlies", "audit", "classify", "run", "report", "bisect")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"vllm-matrix: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand registered."""
    parser = _Parser(prog="vllm-matrix", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vllm-matrix {__version__}")
    parser.add_argument(
        "--matrix", metavar="FILE", help="matrix file (default: $VLLM_MATRIX_FILE, else ./matrix.toml)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"vllm_matrix.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors become one line on stderr and an exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except MatrixError as exc:
        if args.debug:
            raise
        print(f"vllm-matrix: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vllm-matrix: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"vllm-matrix: internal error: {type(exc).__name__}: {exc} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_HARNESS


if __name__ == "__main__":
    sys.exit(main())

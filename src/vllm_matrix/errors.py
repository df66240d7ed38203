"""One error hierarchy for the tool, caught once in ``cli.main``.

Exit codes (the README's table): 0 every selected cell passed or was skipped, 1 some
cell failed, 2 the input was wrong, 3 the harness itself failed.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CELL_FAILED = 1
EXIT_INPUT = 2
EXIT_HARNESS = 3


class MatrixError(Exception):
    """Base of every error the tool reports as one line and an exit code."""

    exit_code = EXIT_HARNESS


class InputError(MatrixError):
    """The user's input (matrix file, arguments, environment) is wrong."""

    exit_code = EXIT_INPUT


class HarnessError(MatrixError):
    """The tool itself failed: never a verdict about vLLM."""

    exit_code = EXIT_HARNESS

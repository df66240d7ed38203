"""One error hierarchy for the tool, caught once in ``cli.main``, and every exit code in one table.

| code | meaning |
|---|---|
| 0 | every selected cell passed or was skipped; ``bisect``: the first bad candidate was found |
| 1 | some cell failed |
| 2 | the input was wrong (matrix file, arguments; ``bisect``: a good end that is bad) |
| 3 | the harness itself failed |
| 4, 5, 6 | ``nightlies``: index unavailable, index malformed, nightly missing (``nightly.errors``) |
| 7 | ``bisect``: only untestable (skipped or flaky) candidates remain between last good and first bad |
| 8 | ``bisect``: the ends are not as claimed (the bad end is not bad, or an end cannot be tested) |
| 130 | interrupted |
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CELL_FAILED = 1
EXIT_INPUT = 2
EXIT_HARNESS = 3
EXIT_BISECT_ONLY_SKIPS = 7
EXIT_BISECT_ENDS = 8


class MatrixError(Exception):
    """Base of every error the tool reports as one line and an exit code."""

    exit_code = EXIT_HARNESS


class InputError(MatrixError):
    """The user's input (matrix file, arguments, environment) is wrong."""

    exit_code = EXIT_INPUT


class HarnessError(MatrixError):
    """The tool itself failed: never a verdict about vLLM."""

    exit_code = EXIT_HARNESS


class EndsNotAsClaimed(MatrixError):
    """``bisect``: the bad end does not show the regression, or an end cannot be tested at all."""

    exit_code = EXIT_BISECT_ENDS

"""Errors of the torch nightly index client, one class per outcome a caller acts on.

The runner maps them to cell outcomes: ``NightlyMissing`` is a SKIP (the index
simply has no such nightly), ``IndexUnavailable`` a FAIL of class
NETWORK_FETCH, ``IndexMalformed`` a FAIL (the index served something that is
not a PEP 503 page), ``NightlySpecError`` bad input. Each carries its own exit
code for ``vllm-matrix nightlies``.
"""

from __future__ import annotations

from vllm_matrix.errors import EXIT_INPUT, MatrixError

EXIT_UNAVAILABLE = 4
EXIT_MALFORMED = 5
EXIT_MISSING = 6


class NightlyError(MatrixError):
    """Base of every error raised while reading the nightly index."""


class NightlySpecError(NightlyError):
    """A spec the index cannot answer by its nature: a future date, a reversed range."""

    exit_code = EXIT_INPUT


class IndexUnavailable(NightlyError):
    """The index could not be read: unreachable, too slow, an HTTP error, offline without a cache."""

    exit_code = EXIT_UNAVAILABLE


class IndexNotFound(IndexUnavailable):
    """The index answered 404: most often a CUDA variant it does not publish (any more)."""


class IndexMalformed(NightlyError):
    """The index answered, but not with a usable PEP 503 page (empty, no wheel anchors)."""

    exit_code = EXIT_MALFORMED


class NightlyMissing(NightlyError):
    """The index is fine but has no wheel for this date, version, Python or platform."""

    exit_code = EXIT_MISSING

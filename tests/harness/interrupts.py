"""SIGINT as a terminal delivers it, for tests that interrupt a process (or themselves).

A process started in the background by a non-interactive shell (``nohup ... &``, as CI runners
start jobs) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler. A
test that sends SIGINT must install the default handler in the process that is to receive it.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def keyboard_interrupts() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this process while the block runs."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def sigint_default() -> None:
    """For ``preexec_fn``: the child starts with SIGINT at its default (Python then raises on it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

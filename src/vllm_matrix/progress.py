"""Build progress from ninja's ``[N/M]`` lines, read from the log while the build runs.

A CUDA build of vLLM runs for hours; its log (where every line still goes)
is the only sign of life. ``watching`` follows the log in a thread, finds the
newest ``[N/M]`` step (the lines may carry a prefix, such as uv's ``DEBUG``),
and reports ``build 312/464 (67%), ~2 min left`` at a steady pace: at most one
line per ``interval_s``, and only when the count moved. The time left is the
rate since the first step seen of this ``M`` (a new ``M`` is a new ninja run,
e.g. a FetchContent sub-build during configure, and starts over).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

STEP = re.compile(r"\[(\d+)/(\d+)\]")
DEFAULT_INTERVAL_S = 30.0
POLL_S = 0.5

Clock = Callable[[], float]


@dataclass(frozen=True)
class Step:
    """One ninja step: ``done`` of ``total``."""

    done: int
    total: int


def last_step(text: str) -> Step | None:
    """The last ``[N/M]`` step in ``text`` with 0 < N <= M, else None."""
    for match in reversed(list(STEP.finditer(text))):
        done, total = int(match.group(1)), int(match.group(2))
        if 0 < done <= total:
            return Step(done, total)
    return None


def duration(seconds: float) -> str:
    """``~40 s``, ``~2 min``, ``~1 h 5 min``: a rough time left."""
    if seconds < 10:
        return f"~{max(1, round(seconds))} s"
    if seconds < 60:
        return f"~{round(seconds / 10) * 10} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60} h {minutes % 60} min"


class Tracker:
    """The rate of one ninja run, and the progress line for its newest step."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.first: tuple[Step, float] | None = None
        self.current: Step | None = None

    def update(self, step: Step) -> None:
        """Take the newest step; a new total starts a new run (and a new rate)."""
        if self.first is None or self.first[0].total != step.total or step.done < self.first[0].done:
            self.first = (step, self.clock())
        self.current = step

    def line(self, what: str = "build") -> str | None:
        """``build 312/464 (67%), ~2 min left`` (no time left until a rate is known)."""
        if self.current is None or self.first is None:
            return None
        step, (start, started_at) = self.current, self.first
        text = f"{what} {step.done}/{step.total} ({100 * step.done // step.total}%)"
        elapsed, advanced = self.clock() - started_at, step.done - start.done
        if advanced > 0 and elapsed > 0 and step.done < step.total:
            text += f", {duration((step.total - step.done) * elapsed / advanced)} left"
        return text


class LogFollower:
    """Reads what was appended to a log since the last read (from where it stood at the start)."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.offset = log.stat().st_size if log.exists() else 0
        self.tail = ""

    def read(self) -> str:
        """The new text since the last call (whole lines; a partial last line waits)."""
        try:
            with self.log.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return ""
        self.offset += len(data)
        text = self.tail + data.decode("utf-8", "replace")
        head, _, self.tail = text.rpartition("\n")
        return head


@contextlib.contextmanager
def watching(log: Path, report: Callable[[str], None], *, interval_s: float = DEFAULT_INTERVAL_S,
             what: str = "build", clock: Clock = time.monotonic) -> Iterator[Tracker]:  # fmt: skip
    """Report the progress of what writes ``log`` while the block runs (a daemon thread)."""
    tracker, follower, stop = Tracker(clock), LogFollower(log), threading.Event()

    def follow() -> None:
        reported: Step | None = None
        last_report = clock()
        while not stop.wait(min(POLL_S, interval_s)):
            step = last_step(follower.read())
            if step is not None:
                tracker.update(step)
            if tracker.current != reported and clock() - last_report >= interval_s:
                line = tracker.line(what)
                if line:
                    report(line)
                reported, last_report = tracker.current, clock()

    thread = threading.Thread(target=follow, name=f"progress-{log.name}", daemon=True)
    thread.start()
    try:
        yield tracker
    finally:
        stop.set()
        thread.join(timeout=5)

"""progress: ninja's [N/M] lines become a steady ``build N/M (P%), ~T left``, from a real process."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from vllm_matrix import progress
from vllm_matrix.proc import run_logged

NINJA_LIKE = """\
import sys, time
print("-- Configuring done", flush=True)
print("[1/3] Creating directories for 'onednn-populate'", flush=True)  # a sub-build: another total
for i in range(1, 21):
    print(f"DEBUG [{i}/20] Building CXX object CMakeFiles/_C.dir/csrc/k{i}.cpp.o", flush=True)
    time.sleep(0.1)
print("DEBUG [20/20] Linking CXX shared module _C.abi3.so", flush=True)
"""
LINE = re.compile(r"^build (\d+)/20 \((\d+)%\)(, ~\d+ s left)?$")


def test_a_real_build_is_reported_at_a_steady_pace_and_logged_in_full(tmp_path: Path) -> None:
    script, log = tmp_path / "ninja_like.py", tmp_path / "logs" / "build.log"
    script.write_text(NINJA_LIKE)
    log.parent.mkdir()
    log.write_text("[1/9] an older run in the same log is not this build's progress\n")
    reports: list[str] = []
    with progress.watching(log, reports.append, interval_s=0.4):
        result = run_logged([sys.executable, str(script)], log, timeout_s=60)
    assert result.ok
    assert 2 <= len(reports) <= 8, reports  # about one per 0.4 s of a 2 s build, never one per line
    matches = [LINE.match(r) for r in reports]
    assert all(matches), reports
    steps = [int(m.group(1)) for m in matches if m]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)  # moving forward, no repeats
    assert any("left" in r for r in reports)
    text = log.read_text()
    assert all(f"[{i}/20] Building CXX object" in text for i in range(1, 21))  # the log keeps every line


def test_the_last_step_tolerates_prefixes_and_ignores_nonsense() -> None:
    assert progress.last_step("DEBUG [3/10] Building\n[4/10] Building\n") == progress.Step(4, 10)
    assert progress.last_step("[0/0] x\n[7/5] y\n") is None
    assert progress.last_step("no steps here") is None


def test_time_left_comes_from_the_rate_of_this_ninja_run() -> None:
    now = [0.0]
    tracker = progress.Tracker(clock=lambda: now[0])
    tracker.update(progress.Step(100, 464))
    assert tracker.line() == "build 100/464 (21%)"  # no rate yet
    now[0] = 200.0
    tracker.update(progress.Step(312, 464))
    assert tracker.line() == "build 312/464 (67%), ~2 min left"
    tracker.update(progress.Step(3, 9))  # another ninja run: a new rate
    assert tracker.line() == "build 3/9 (33%)"
    now[0] = 400.0
    tracker.update(progress.Step(464, 464))
    assert tracker.line() == "build 464/464 (100%)"


def test_durations_read_like_a_person_would_say_them() -> None:
    assert [progress.duration(s) for s in (3, 44, 130, 3900)] == ["~3 s", "~40 s", "~2 min", "~1 h 5 min"]

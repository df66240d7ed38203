"""proc.run_logged: real subprocesses that exit, hang, crash by signal, or outlive an interrupt."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from vllm_matrix import proc
from vllm_matrix.proc import NOT_FOUND, run_logged

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has ended all the same.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_output_and_command_go_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "stage.log"
    result = run_logged(
        [PY, "-c", "import sys; print('out'); print('err', file=sys.stderr)"], log, timeout_s=30
    )
    assert result.ok and result.returncode == 0 and not result.timed_out
    text = log.read_text()
    assert "$ " + PY in text and "out\n" in text and "err\n" in text and "[exit 0;" in text


def test_env_and_cwd_reach_the_process(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    code = "import os; print(os.environ['ONLY'], os.getcwd(), 'HOME' in os.environ)"
    result = run_logged([PY, "-c", code], log, timeout_s=30, env={"ONLY": "x1"}, cwd=tmp_path)
    assert result.ok
    assert f"x1 {tmp_path} False" in log.read_text()


def test_failure_exit_code_is_recorded(tmp_path: Path) -> None:
    result = run_logged([PY, "-c", "raise SystemExit(7)"], tmp_path / "a.log", timeout_s=30)
    assert not result.ok and result.returncode == 7 and result.describe() == "exit 7"


def test_segfault_is_a_recorded_return_code(tmp_path: Path) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    result = run_logged([PY, "-c", code], tmp_path / "a.log", timeout_s=30)
    assert result.returncode == -signal.SIGSEGV and result.signal_name == "SIGSEGV"
    assert "killed by SIGSEGV" in result.describe()
    assert "killed by SIGSEGV" in (tmp_path / "a.log").read_text()


def test_hang_is_killed_with_its_children_at_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time;"
        f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
        f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(300)"
    )
    start = time.monotonic()
    result = run_logged([PY, "-c", code], tmp_path / "a.log", timeout_s=2)
    assert result.timed_out and not result.ok
    assert time.monotonic() - start < 15
    assert result.describe().startswith("timed out after")
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the grandchild survived the timeout"
    assert "[timeout: no exit after 2s" in (tmp_path / "a.log").read_text()


def test_a_process_ignoring_sigterm_gets_sigkill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    monkeypatch.setattr(proc, "KILL_GRACE_S", 0.5)
    start = time.monotonic()
    result = run_logged([PY, "-c", code], tmp_path / "a.log", timeout_s=1.5)
    assert result.timed_out and result.returncode == -signal.SIGKILL
    assert time.monotonic() - start < 5


def test_missing_program_is_exit_127_not_an_exception(tmp_path: Path) -> None:
    result = run_logged(["/nonexistent/tool", "--x"], tmp_path / "a.log", timeout_s=5)
    assert result.returncode == NOT_FOUND and not result.ok
    assert "cannot start /nonexistent/tool" in (tmp_path / "a.log").read_text()


def test_interrupt_kills_the_group_and_propagates(tmp_path: Path, default_sigint: None) -> None:
    pidfile = tmp_path / "pid"
    # The child interrupts us (as Ctrl-C would) once it is running, then hangs.
    code = (
        f"import os, signal, time; open({str(pidfile)!r}, 'w').write(str(os.getpid()));"
        "os.kill(os.getppid(), signal.SIGINT); time.sleep(300)"
    )
    with pytest.raises(KeyboardInterrupt):
        run_logged([PY, "-c", code], tmp_path / "a.log", timeout_s=60)
    pid = int(pidfile.read_text())
    assert not _alive(pid)
    assert "[interrupted; killing process group" in (tmp_path / "a.log").read_text()

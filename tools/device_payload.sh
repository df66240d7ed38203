#!/usr/bin/env bash
# Run the payload suites against the released vllm 0.26.0 (CUDA 13 wheel) on a
# lent H200 (sm_90) that has torch 2.11.0+cu130 but no vLLM and no network.
#
# The wheel is 290 MiB and a device call carries 64 MiB, so it travels in two
# parts over two calls to one warm machine:
#   here:   tools/device_payload.sh prepare     # .whl/ (vLLM's missing deps) + .vllm026/ (vLLM, pruned)
#   device: tools/device_payload.sh stage-deps  # carry .whl; installs the deps into /tmp/site
#   device: tools/device_payload.sh run         # carry .vllm026; unpacks vLLM, runs both suites
# What "prepare" drops to fit: vllm-rs, the FA2 library (283 MiB of sm_80
# code; FA3 is what an H200 runs), C++/CUDA headers, and the fatbin entries an
# sm_90 GPU never loads (SASS for other archs; tools/prune_fatbin.py zeroes
# them in place, so the ELF layout is unchanged and zstd squeezes them out).
set -uo pipefail
cmd=${1:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
site=/tmp/site
out=${OUT:-/tmp/payload-out}

prepare() {
    local tmp=/tmp/vllm026
    mkdir -p "$tmp" "$repo/.whl" "$repo/.vllm026"
    python3 -m pip download -q --no-deps vllm==0.26.0 -d "$tmp"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux1_x86_64 \
        -d "$repo/.whl" -r "$repo/tools/device_deps.txt"
    mkdir -p "$repo/.whl/bin"
    cp "$(command -v zstd)" /lib/x86_64-linux-gnu/liblz4.so.1 /lib/x86_64-linux-gnu/liblzma.so.5 "$repo/.whl/bin/"
    rm -rf "$tmp/pay" && mkdir "$tmp/pay" && cd "$tmp/pay" || exit 3
    unzip -q "$tmp"/vllm-0.26.0-*.whl -x 'vllm/vllm-rs' 'vllm/vllm_flash_attn/_vllm_fa2_C.abi3.so' \
        '*.hpp' '*.h' '*.cuh' '*.cu' '*.inl'
    python3 "$repo/tools/prune_fatbin.py" vllm/_C_stable_libtorch.abi3.so vllm/_moe_C_stable_libtorch.abi3.so
    tar cf - vllm vllm-0.26.0.dist-info | zstd -19 -T0 -q -f -o "$repo/.vllm026/vllm026-sm90.tar.zst"
    du -sh "$repo/.whl" "$repo/.vllm026"
}

stage_deps() {
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader
    python3 -c 'import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.get_device_name())'
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        "$repo"/.whl/*.whl || exit 3
    # The image has no zstd: prepare copies this machine's binary and the libraries it links.
    mkdir -p /tmp/bin && cp "$repo"/.whl/bin/* /tmp/bin/
    echo "deps staged in $site: $(ls "$site" | wc -l) entries"
}

suite() {  # suite NAME TIMEOUT PATH [extra env...]
    local name=$1 limit=$2 path=$3; shift 3
    env "$@" timeout "$limit" python3 -m pytest -c "$repo/src/vllm_matrix/payload/pytest-payload.ini" --rootdir "$repo/src/vllm_matrix/payload" \
        "$path" -q -rfEs -p no:randomly ${XDIST:-} --junitxml="$out/junit-$name.xml" >"$out/log-$name.txt" 2>&1
    echo "== $name rc=$?"
    grep -E '^(FAILED|ERROR|SKIPPED)|passed|failed' "$out/log-$name.txt" | tail -40
}

run() {
    [ -d "$site/pydantic" ] && [ -x /tmp/bin/zstd ] || stage_deps
    mkdir -p "$out"
    LD_LIBRARY_PATH=/tmp/bin /tmp/bin/zstd -d -q -c "$repo"/.vllm026/vllm026-sm90.tar.zst | tar xf - -C "$site" || exit 3
    # FA4 (CuTe DSL) needs nvidia-cutlass-dsl, quack and tvm_ffi, which do not travel; without
    # cute/interface.py vLLM marks FA4 unavailable, as on a build that lacks it. FA3 is the H200's.
    rm -rf "$site/vllm/vllm_flash_attn/cute"
    export PYTHONPATH=$site HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_CACHE_ROOT=/tmp/vllm-cache
    export VLLM_MATRIX_CELL_ID=h200_vllm026 VLLM_MATRIX_DEVICE=cuda VLLM_MATRIX_SEED=0
    # flashinfer does not travel either; vLLM 0.26's sampler imports it unless told not to.
    export VLLM_USE_FLASHINFER_SAMPLER=0
    python3 -c 'import vllm, torch; print("vllm", vllm.__version__, "torch", torch.__version__)' 2>&1 | tail -3
    XDIST="-n 4" suite kernels 400 "${KERNEL_PATHS:-$repo/src/vllm_matrix/payload/kernels}" VLLM_MATRIX_DTYPE=bfloat16 \
        VLLM_MATRIX_KERNEL_DTYPES=float16,bfloat16,float32 VLLM_MATRIX_FA_VERSION=3 VLLM_MATRIX_MAX_EXAMPLES=6 &
    local kernels=$!
    suite generation "${GEN_LIMIT:-420}" "$repo/src/vllm_matrix/payload/generation" VLLM_MATRIX_DTYPE=bfloat16 VLLM_MATRIX_FA_VERSION=3 \
        VLLM_MATRIX_ENFORCE_EAGER=0
    wait "$kernels"
    python3 - "$out" <<'PY'
import sys, glob, xml.etree.ElementTree as ET
for path in sorted(glob.glob(sys.argv[1] + "/junit-*.xml")):
    for case in ET.parse(path).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        state = "fail" if case.find("failure") is not None or case.find("error") is not None else (
            "skip" if case.find("skipped") is not None else "pass")
        keep = {k: v for k, v in props.items() if k not in ("cell_id", "device", "dtype", "torch_version",
                "vllm_version", "enforce_eager", "hypothesis_seed", "kernel_dtypes", "fa_version_requested")}
        print(state, case.get("name"), keep if keep else "")
PY
}

case $cmd in
    prepare) prepare ;;
    stage-deps) stage_deps ;;
    run) run ;;
    *) echo "usage: $0 prepare|stage-deps|run" >&2; exit 2 ;;
esac

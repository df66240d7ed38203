#!/usr/bin/env bash
# The GPU proof (issue 15) on the lent H200, in consecutive calls to one warm machine.
#
# Here:   python3 tools/h200/prepare.py             # .device/c1..c4, each under one call's 64 MiB
# Device: tools/h200/device.sh c1   (carry .device/c1) stage, start the sdist CPU cell, preflights
#         tools/h200/device.sh c2   (carry .device/c2) vLLM's missing dependency wheels
#         tools/h200/device.sh c3   (carry .device/c3)
#         tools/h200/device.sh c4   (carry .device/c4) the vLLM wheel whole: start its two cells
#         tools/h200/device.sh collect                wait for the cells, reports into $OUT
# Everything lives under /tmp/h200 (a warm machine keeps it between calls); the harness runs
# from a copy of this tree there with the image's Python (torch 2.11.0+cu130), so a new call's
# working tree never changes under a running cell. Long cells run detached (setsid) and log to
# /tmp/h200/<run>.log; `status` prints where they are.
set -uo pipefail
H=/tmp/h200
PY=${H200_PYTHON:-/opt/torch/.venv/bin/python3}
MATRIX=${H200_MATRIX:-tools/h200/matrix.toml}  # a rehearsal elsewhere names its own copy
REPO=$H/repo
WHEEL=vllm-0.26.0-cp38-abi3-manylinux_2_28_x86_64.whl
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$H/out}

vm() {  # vllm-matrix from the copy, with the harness's own few wheels on the path
    (cd "$REPO" && PYTHONPATH="$REPO/src:$H/site" "$PY" -m vllm_matrix --matrix "$MATRIX" "$@")
}

detached() {  # detached RUN CELLS...: a run that outlives this call, logged to $H/RUN.log
    local run=$1
    shift
    (cd "$REPO" && PYTHONPATH="$REPO/src:$H/site" VLLM_MATRIX_WORKDIR="$H/work-$run" \
        setsid nohup "$PY" -m vllm_matrix --matrix "$MATRIX" run --run "$run" \
        --reports "$H/reports" "$@" >"$H/$run.log" 2>&1 </dev/null &)
    echo "started run $run ($*): log $H/$run.log"
}

take() {  # take CALL: put one call's pieces in place
    local call=$here/.device/$1
    mkdir -p "$H/wheels" "$H/parts"
    [[ -d $call/wheels ]] && cp "$call"/wheels/* "$H/wheels/"
    cp "$call"/vllm-wheel.xz.part* "$H/parts/" 2>/dev/null
    echo "$1: $(find "$call" -type f | wc -l) files, $(du -sm "$call" | cut -f1) MiB; wheels now $(ls "$H/wheels" | wc -l)"
}

machine() {
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader
    "$PY" -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.version.git_version)'
    nvcc --version | tail -2 | head -1
    gcc --version | head -1
    nproc
    free -g | sed -n 2p
}

status() {
    for log in "$H"/*.log; do
        [[ -f $log ]] || continue
        echo "== $log (last lines)"
        tail -n 4 "$log"
    done
    pgrep -af "vllm_matrix.*run" | grep -v pgrep | cut -c1-160 || echo "no run in progress"
}

c1() {
    rm -rf "$H" && mkdir -p "$H/sdist" "$H/fetchcontent" "$H/reports"
    machine
    echo "uv: $(command -v uv || echo 'NOT on PATH') $(uv --version 2>/dev/null)"
    tar -C "$here" --exclude=./.device --exclude=./.venv --exclude=./reports -cf - . | (mkdir -p "$REPO" && tar -C "$REPO" -xf -)
    take c1
    cp "$here"/.device/c1/sdist/*.tar.gz "$H/sdist/"
    cp "$here"/.device/c1/vllm-deps.txt "$H/vllm-deps.txt"
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="tar")' \
        "$here/.device/c1/onednn.tar.xz" "$H/fetchcontent" || exit 3
    echo "oneDNN $(cat "$here/.device/c1/onednn-revision.txt") in $H/fetchcontent/onednn"
    "$PY" -m pip install -q --no-index --no-deps --target "$H/site" \
        "$H"/wheels/cattrs-*.whl "$H"/wheels/junitparser-*.whl "$H"/wheels/platformdirs-*.whl || exit 3
    vm plan
    MAX_JOBS=${MAX_JOBS:-12} detached h200-cpu h200_sdist026_cpu
    # Detached too: the four probes take about 100 s each, and on 2026-12-02 the call that ran
    # them in the foreground hit the 600 s limit (the run finished; `--resume` showed it).
    detached h200-gpu 'h200_preflight_*'
    sleep "${WAIT_S:-30}"
    status
}

c4() {
    take c4
    "$PY" - "$H/parts" "$H/wheels/$WHEEL" <<'EOF'
import lzma, shutil, sys
from pathlib import Path
parts, dest = sorted(Path(sys.argv[1]).glob("vllm-wheel.xz.part*")), Path(sys.argv[2])
with open(dest.with_suffix(".xz"), "wb") as blob:
    for part in parts:
        blob.write(part.read_bytes())
with lzma.open(dest.with_suffix(".xz")) as xz, open(dest, "wb") as wheel:
    shutil.copyfileobj(xz, wheel, 1 << 24)
dest.with_suffix(".xz").unlink()
print(f"{dest.name}: {dest.stat().st_size >> 20} MiB from {len(parts)} parts")
EOF
    VLLM_MATRIX_MAX_EXAMPLES=${VLLM_MATRIX_MAX_EXAMPLES:-5} detached h200-wheel 'h200_vllm026_*'
    sleep "${WAIT_S:-420}"
    status
}

collect() {  # wait up to WAIT_S for the runs, then the reports (result.json, junit, logs) into $OUT
    local waited=0
    while pgrep -f "vllm_matrix.*run --run" >/dev/null && ((waited < ${WAIT_S:-480})); do
        sleep 10
        waited=$((waited + 10))
    done
    status
    mkdir -p "$out"
    for run in "$H"/reports/*/; do
        tar -C "$H/reports" -czf "$out/$(basename "$run").tar.gz" "$(basename "$run")"
    done
    cp "$H"/*.log "$out/" 2>/dev/null
    ls -la "$out"
}

case ${1:-} in
    c1) c1 ;;
    c2 | c3) take "$1" && status ;;
    c4) c4 ;;
    collect) collect ;;
    status) status ;;
    *) echo "usage: tools/h200/device.sh c1|c2|c3|c4|collect|status" >&2 && exit 2 ;;
esac

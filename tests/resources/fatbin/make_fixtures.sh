#!/usr/bin/env bash
# Regenerates the committed arch-audit fixtures with nvcc (13.0 was used) and cc.
# Each shared object mirrors a case seen in vLLM wheels; the expected archs are
# asserted in tests/harness/test_fatbin.py. Run from anywhere: bash make_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")"
so() {  # so OUT SRC NVCC-ARGS...: a small shared object (no static cudart, to stay small)
  local out=$1 src=$2
  shift 2
  nvcc -shared -Xcompiler -fPIC -cudart none -o "$out" "$src" "$@"
}
# vLLM's FA2: 8.0+PTX (SASS sm_80 and PTX compute_80), compressed as nvcc 13 does by default
so fa2_like.so kernels.cu -gencode arch=compute_80,code=[sm_80,compute_80]
# vLLM's FA3: sm_90a only
so fa3_like.so kernels.cu -gencode arch=compute_90a,code=sm_90a
# arch-specific Blackwell SASS plus plain 12.0 PTX
so sm120a_ptx120.so kernels.cu -gencode arch=compute_120a,code=sm_120a -gencode arch=compute_120,code=compute_120
# family-specific SASS and PTX (CUDA 12.9+)
so sm120f.so kernels.cu -gencode arch=compute_120f,code=[sm_120f,compute_120f]
# arch-specific PTX only: JIT works on 9.0 and nowhere else
so ptx90a.so kernels.cu -gencode arch=compute_90a,code=compute_90a
# uncompressed entries, and the "speed" compression (a different flag bit)
so uncompressed.so kernels.cu -gencode arch=compute_80,code=[sm_80,compute_80] --no-compress
so compress_speed.so kernels.cu -gencode arch=compute_80,code=[sm_80,compute_80] --compress-mode=speed
# several kernels in several containers, like vLLM's _C: two objects with different arch sets
nvcc -c -Xcompiler -fPIC -o multi_a.o kernels.cu \
  -gencode arch=compute_75,code=sm_75 -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=[sm_90,compute_90] -gencode arch=compute_120,code=sm_120
nvcc -c -Xcompiler -fPIC -o multi_b.o hopper_only.cu \
  -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_100f,code=sm_100f
nvcc -shared -cudart none -o multi.so multi_a.o multi_b.o
rm multi_a.o
# an object file (.nv_fatbin), relocatable device code (__nv_relfatbin), a cubin, a bare fatbin
mv multi_b.o object.o
nvcc -c -rdc=true -o rdc.o kernels.cu -gencode arch=compute_89,code=sm_89
nvcc -cubin -o sm120a.cubin kernels.cu -arch=sm_120a
nvcc -fatbin -o bare.fatbin kernels.cu -gencode arch=compute_86,code=[sm_86,compute_86]
# no GPU code at all
cc -shared -fPIC -o cpu_only.so cpu_only.c
strip --strip-unneeded ./*.so
ls -l

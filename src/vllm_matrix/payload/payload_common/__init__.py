"""Shared helpers for the payload suites (tests/kernels, tests/generation).

These run inside a cell's venv, where the harness is not installed: they may
import only torch, vllm, pytest, hypothesis and transformers (and tokenizers,
which transformers brings).
"""

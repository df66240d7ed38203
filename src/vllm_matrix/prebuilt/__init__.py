"""Prebuilt vLLM to install over a cell's torch ("wheel over nightly"), found on the indexes that carry it.

- ``commits``: vLLM's per-commit wheel index (``https://wheels.vllm.ai/<commit>/<variant>/vllm/``,
  ``metadata.json``; ``nightly`` is main's latest commit)
- ``devwheels``: the vLLM dev wheels of the PyTorch nightly index (``X.Y.Z.devYYYYMMDD+cu130``,
  dated like torch's nightlies)
- ``overrides``: the uv override file that keeps the cell's torch whatever the wheel pins

Release wheels (``wheel:vllm==0.33.0``) come from PyPI and need no lookup here.
"""

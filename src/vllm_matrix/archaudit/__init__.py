"""Which SASS and PTX a compiled extension carries, and what a given GPU can run of it.

- ``rules``: NVIDIA's compatibility rules (plain, ``a`` and ``f`` SASS/PTX) -> a verdict
- ``elf``: the section table of an ELF file, read in pure Python
- ``fatbin``: the fatbin containers in ``.nv_fatbin`` -> archs; ``audit_path``
- ``installed``: where the compiled files of a venv's vllm are (editable installs too)
"""

"""The PyTorch nightly index client: which nightlies exist, and what a spec resolves to.

- ``errors``: one error class per outcome a caller acts on
- ``client``: ``IndexClient`` (HTTP GET with timeouts, retries, a TTL cache, offline mode)
- ``pages``: PEP 503 pages and wheel file names (pure)
- ``listing``: a package page -> typed wheels, one per nightly date
- ``companions``: the pinned triton and same-date torchvision/torchaudio
- ``resolve``: ``resolve_torch``, ``resolve_range``: specs -> exact wheels
- ``commits``: a nightly's commit message -> main-branch sha -> compare URL
"""

"""The matrix: matrix.toml -> a frozen, typed config -> cells. Standard library only (and
``packaging``, which nox itself depends on), so that noxfile.py can import it.

- ``config``: matrix.toml -> ``MatrixConfig`` (every error one line naming file, line and key)
- ``fields``: what each cell field accepts
- ``specs``: torch specs and vLLM sources, parsed (no network)
- ``cell``: ``Cell``, its id, tags and build key
- ``expand``: axes, exclude and include (GitHub Actions semantics) -> cells
- ``names``: stage names and run names, shared by every layer above
- ``ci``: the same cells as a GitHub Actions matrix or Buildkite steps
"""

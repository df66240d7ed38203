"""The stages a cell goes through, one module each, and what they share.

- ``pipeline``: ``PIPELINE``, the one ordered list of stages, and which a cell runs
- ``base``: ``StageContext`` (bound to one stage) and the ways a stage ends a cell
- ``state``: ``CellState``, the typed facts the stages fill in (result.json's ``facts``)
- ``resolve``, ``venv``, ``torch``, ``source``, ``prepare``, ``build``, ``verify``, ``suites``: the stages
- ``uv``: the uv command lines the install stages share
"""

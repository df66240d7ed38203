"""A failed stage's log -> failure class, decisive line and hint.

- ``catalogue``: the classes (``catalogue.toml``, data users extend) and their signatures
- ``engine``: ``classify_file`` / ``classify_lines`` -> ``Diagnosis``
- ``logtext``: logs as streamed blocks of clean lines (ANSI, CR, bad bytes)
- ``linematch``: fast line search for catalogue regexes (literal prefilters)
"""

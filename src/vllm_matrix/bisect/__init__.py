"""Bisection: the first bad candidate of a cell, with the fewest builds, as mozregression and git bisect run.

Modules, each one idea (imports go down this list):

- ``state``: the candidates, the step judged for each, the window (pure)
- ``pick``: which candidate next (the middle; near it, away from skips, after a skip)
- ``signature``, ``figures``: a failure's normalised signature; the figures a cell recorded
- ``badon``: what counts as bad (``--bad-on``) and the verdict of one result
- ``space``, ``dates``, ``commits``, ``listed``: the candidates per kind and each step's cell
- ``prebuilt``: which candidates have a prebuilt vLLM to narrow with first
- ``steps``: one step through the runner (result cache, retries, flaky)
- ``loop``: ends, prebuilt phase, source phase, progress
- ``compare``, ``document``, ``result``: the commit range; bisect.json; the outcome, its JSON,
  its text and its report section
- ``session``: a question to an outcome
"""

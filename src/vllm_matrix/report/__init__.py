"""The published report: merged JUnit, Markdown, a static HTML site, an image, JSON and history.

``inputs`` reads run directories, JUnit files and a plan (keeping what cannot be
read, with the reason); ``model`` turns them into one view per cell and the
pivot (configuration x torch nightly); ``history`` adds what changed since
earlier runs; the writers (``markdown``, ``site``, ``image``, ``jsonreport``,
``mergedjunit``) render that one model; ``build`` writes them all.
"""

"""Nightlies the index no longer lists, installed by URL from a template the user gives.

An index page lists about the newest 60 versions of a package; older nightlies are often
still on the file host, at a URL of a known shape. ``--url-template`` (the resolve stage
reads it from ``$VLLM_MATRIX_TORCH_URL_TEMPLATE``) names that shape, with placeholders
``{date}`` (2026-09-01), ``{yyyymmdd}`` (20260901), ``{cuda}`` (cu130) and ``{python_tag}``
(cp312), e.g. ``https://download.pytorch.org/whl/nightly/{cuda}/torch-2.12.0.dev{yyyymmdd}%2B{cuda}-
{python_tag}-{python_tag}-manylinux_2_28_x86_64.whl``.
"""

from __future__ import annotations

import datetime as dt
import string
import urllib.error
import urllib.request
from urllib.parse import unquote

from vllm_matrix.nightly.errors import NightlySpecError
from vllm_matrix.nightly.listing import NightlyWheel
from vllm_matrix.nightly.pages import normalize, parse_wheel_name

TEMPLATE_ENV = "VLLM_MATRIX_TORCH_URL_TEMPLATE"
PLACEHOLDERS = ("date", "yyyymmdd", "cuda", "python_tag")


def check_template(template: str) -> str:
    """``template`` if it is a URL naming the date with known placeholders; NightlySpecError otherwise."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise NightlySpecError(f"--url-template: {exc}") from None
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise NightlySpecError(f"--url-template: unknown placeholder {{{unknown[0]}}} (use {PLACEHOLDERS})")
    if not names & {"date", "yyyymmdd"} or "://" not in template:
        raise NightlySpecError("--url-template: expected a wheel URL with {yyyymmdd} or {date} in it")
    return template


def url_for(template: str, day: dt.date, cuda: str, python: str) -> str:
    """The wheel URL of ``day``'s nightly."""
    tag = "cp" + python.replace(".", "")
    return template.format(date=day.isoformat(), yyyymmdd=day.strftime("%Y%m%d"), cuda=cuda, python_tag=tag)


def wheel(template: str, day: dt.date, cuda: str, python: str) -> NightlyWheel:
    """The torch wheel the template names for ``day`` (not looked up: see ``exists``)."""
    url = url_for(template, day, cuda, python)
    filename = unquote(url.rsplit("/", 1)[-1].split("?")[0])
    name = parse_wheel_name(filename)
    if name is None or normalize(name.name) != "torch":
        raise NightlySpecError(f"--url-template: {url} does not name a torch wheel file")
    return NightlyWheel("torch", name.version, day, cuda, name.python_tag, name.abi_tag, name.platform_tag,
                        filename, url)  # fmt: skip


def exists(url: str, timeout_s: float = 30.0) -> bool:
    """Whether the file host has ``url`` (a HEAD request answered 2xx)."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False

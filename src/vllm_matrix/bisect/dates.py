"""Candidates over torch nightly dates: the dates the cell's index actually lists, good to bad.

The index page of a package lists about its newest 60 versions, so a date older than the
oldest one listed cannot be resolved from it: such an end is bad input, one line naming the
window the index shows, unless ``--url-template`` says where those wheels are
(``nightly.hidden``): then the older dates whose wheel the file host has are candidates too.
A date inside the window that the index lacks is not a candidate (nightlies are missing now
and then); an end the index lacks is bad input naming the nearest dates. When two base
versions share a date (a version bump) the highest one is that date's nightly, as ``pip
install`` would pick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from vllm_matrix.bisect.space import Candidate, Space
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.cell import Cell
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.matrix.specs import SpecError, parse_date
from vllm_matrix.nightly import hidden
from vllm_matrix.nightly.client import IndexClient
from vllm_matrix.nightly.errors import NightlyMissing
from vllm_matrix.nightly.listing import NightlyWheel, list_nightlies, select_date

WINDOW_NOTE = "the index shows about the newest 60 versions of a package"


def ends(good: str, bad: str) -> tuple[dt.date, dt.date]:
    """``--good`` and ``--bad`` as dates, the good one older; InputError otherwise."""
    days = []
    for flag, text in (("--good", good), ("--bad", bad)):
        try:
            days.append(parse_date(text))
        except SpecError as exc:
            raise InputError(f"bisect {flag}: {exc}") from None
    if days[0] >= days[1]:
        raise InputError(
            f"bisect: the good end {good} is not before the bad end {bad} (--good names the older nightly)"
        )
    return days[0], days[1]


def space(config: MatrixConfig, cell: Cell, good: str, bad: str, environ: Mapping[str, str],
          client: IndexClient, url_template: str | None = None) -> Space:  # fmt: skip
    """The nightly dates from ``good`` to ``bad`` on the cell's index, both ends included.

    With ``url_template``, dates older than the index's window are candidates too, where the
    file host has the wheel the template names (a HEAD request each).
    """
    if cell.torch_spec.kind not in ("latest", "date"):
        raise InputError(
            f"bisect: cell {cell.id} has torch = {cell.torch}, not a nightly: no nightly to bisect"
        )
    first, last = ends(good, bad)
    index = config.index("nightly").effective(environ)
    listing = list_nightlies(cell.cuda, cell.python, index, client=client)
    dated = listing.nightlies()
    if not dated:
        raise InputError(f"bisect: {listing.page_url} lists no torch nightly for Python {cell.python}")
    oldest = dated[0].date
    assert oldest is not None  # nightlies() keeps dated wheels only
    older = (
        _older(cell, first, min(last, oldest - dt.timedelta(days=1)), url_template) if first < oldest else []
    )
    for flag, day in (("--good", first), ("--bad", last)):
        if not (url_template and day < oldest):
            _check_end(flag, day, dated, cell.cuda)
    chosen = older + [w for w in dated if w.date is not None and first <= w.date <= last]
    window = f"{dated[0].date} .. {dated[-1].date}"
    by_url = f", {len(older)} older ones by URL" if older else ""
    return Space("torch-nightly", "torch", tuple(candidate(w) for w in chosen),
                 f"the {cell.cuda} torch nightlies of {listing.page_url} ({window}){by_url}")  # fmt: skip


def _older(cell: Cell, first: dt.date, last: dt.date, template: str | None) -> list[NightlyWheel]:
    """The nightlies from ``first`` to ``last`` the template's URLs have (none without a template)."""
    if template is None:
        return []
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    wheels = [
        w
        for w in (hidden.wheel(template, day, cell.cuda, cell.python) for day in days)
        if hidden.exists(w.url)
    ]
    if not wheels or wheels[0].date != first:
        raise InputError(
            f"bisect --good {first}: no nightly at {hidden.url_for(template, first, cell.cuda, cell.python)}"
        )
    return wheels


def _check_end(flag: str, day: dt.date, dated: list[NightlyWheel], cuda: str) -> None:
    oldest, newest = dated[0].date, dated[-1].date
    assert oldest is not None and newest is not None  # nightlies() keeps dated wheels only
    if not oldest <= day <= newest:
        raise InputError(
            f"bisect {flag} {day} is outside the index's window: {cuda} lists torch nightlies from {oldest} "
            f"to {newest} ({WINDOW_NOTE}; older ones install by URL with --url-template)"
        )
    try:
        select_date(day, dated, cuda)
    except NightlyMissing as exc:
        raise InputError(f"bisect {flag}: {exc}") from None


def candidate(wheel: NightlyWheel) -> Candidate:
    """The candidate of one nightly: its date, the spec ``nightly:<date>``, the id suffix ``n<yyyymmdd>``."""
    assert wheel.date is not None
    day = wheel.date.isoformat()
    return Candidate(day, f"nightly:{day}", "n" + wheel.date.strftime("%Y%m%d"))

"""Typed records <-> JSON-ready dicts, with one converter (cattrs) for the whole tool.

Dataclasses unstructure to dicts that leave out fields still at their default
(``None``, ``()``, ``{}``): a result.json holds what a cell got far enough to
learn, nothing more. Dates are ISO strings, paths strings. Structuring ignores
keys it does not know, so a reader keeps working when a later version adds
fields; a value of the wrong type is ``SerialError``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_unstructure_fn

T = TypeVar("T")


class SerialError(ValueError):
    """Data that does not fit the record it is read into."""


def _converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
    conv.register_structure_hook(dt.date, lambda v, _: dt.date.fromisoformat(str(v)))
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook(Path, lambda v, _: Path(str(v)))
    conv.register_unstructure_hook_factory(
        dataclasses.is_dataclass,
        lambda cls: make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True),
    )
    return conv


CONVERTER = _converter()


def to_data(record: Any) -> Any:
    """A record (dataclass, tuple, ...) as plain JSON-ready data."""
    return CONVERTER.unstructure(record)


def from_data(data: Any, kind: type[T]) -> T:
    """``data`` read into ``kind``; SerialError naming what did not fit."""
    try:
        return CONVERTER.structure(data, kind)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc)) if isinstance(exc, cattrs.BaseValidationError) else exc
        )
        raise SerialError(f"not a valid {kind.__name__}: {detail}") from None

"""Matrix expansion: axes product, exclude, include, defaults, ids. No I/O.

Exclude and include follow GitHub Actions' documented semantics:

- an exclude entry removes every combination it matches (a partial match
  suffices); excludes apply before includes;
- an include entry is added to every *original* combination whose original
  axis values it does not contradict; it never overwrites an original value,
  but may overwrite values added by an earlier include;
- an include that matches no original combination becomes a new combination.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from vllm_matrix.errors import InputError
from vllm_matrix.matrix.applicability import Table
from vllm_matrix.matrix.cell import ID_SAFE, Cell, cell_tags, field_slugs
from vllm_matrix.matrix.config import MatrixConfig
from vllm_matrix.matrix.fields import REQUIRED

Combo = dict[str, Any]


def product(axes: dict[str, tuple[Any, ...]]) -> list[Combo]:
    """Every combination of axis values, first axis slowest. No axes: none."""
    if not axes:
        return []
    keys = list(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes.values())]


def matches(combo: Combo, entry: Combo, keys: Iterable[str] | None = None) -> bool:
    """Whether ``combo`` agrees with ``entry`` on ``keys`` (default: all of entry's)."""
    check = entry.keys() if keys is None else [k for k in entry if k in keys]
    return all(k in combo and combo[k] == entry[k] for k in check)


def apply_exclude(combos: list[Combo], exclude: Sequence[Combo]) -> list[Combo]:
    """Drop every combination that some exclude entry matches."""
    return [c for c in combos if not any(matches(c, e) for e in exclude)]


def apply_include(combos: list[Combo], include: Sequence[Combo], axis_keys: Iterable[str]) -> list[Combo]:
    """Extend matching original combinations; unmatched includes become new ones."""
    originals = [dict(c) for c in combos]
    axis_keys = set(axis_keys)
    extra: list[Combo] = []
    for entry in include:
        hits = [c for c in originals if matches(c, entry, axis_keys)]
        for combo in hits:
            combo.update(entry)
        if not hits:
            extra.append(dict(entry))
    return originals + extra


def combinations(config: MatrixConfig) -> list[Combo]:
    """The raw combinations of a matrix, before defaults and ids."""
    combos = apply_exclude(product(config.axes), config.exclude)
    return apply_include(combos, config.include, config.axes)


def expand(config: MatrixConfig, today: dt.date | None = None) -> list[Cell]:
    """All cells of a matrix, with defaults filled in, unique safe ids, and n/a marked.

    A combination the applicability table rules out stays a cell (plan lists it, the
    report shows it) with ``not_applicable`` saying why; it is never run.
    """
    table = config.applicability_table()
    cells = [_cell(config, combo, table, today) for combo in combinations(config)]
    _check_unique(config, cells)
    return cells


def _cell(config: MatrixConfig, combo: Combo, table: Table, today: dt.date | None) -> Cell:
    values = {**config.defaults, **{k: v for k, v in combo.items() if k != "id"}}
    missing = [k for k in REQUIRED if k not in values]
    if missing:
        shown = ", ".join(f"{k}={v!r}" for k, v in combo.items())
        raise InputError(
            f"{config.path}: matrix: the combination {{{shown}}} has no value for "
            f"{', '.join(missing)}; add it to the include entry or to [defaults]"
        )
    slugs = field_slugs(values)
    cell_id = combo.get("id") or _render_id(config, slugs)
    fields = {k: v for k, v in values.items() if k in Cell.__dataclass_fields__}
    why = table.why_not(values, today)
    return Cell(id=cell_id, tags=cell_tags(values, slugs), not_applicable=why, **fields)


def _render_id(config: MatrixConfig, slugs: dict[str, str]) -> str:
    try:
        text = config.id_template.format(**slugs)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"{config.path}: ids.template: cannot render ({exc})") from None
    cell_id = "_".join(part for part in text.split("_") if part)
    if not ID_SAFE.match(cell_id):
        raise InputError(
            f"{config.path}: ids.template: renders {cell_id!r}, but ids may hold only letters, digits and _"
        )
    return cell_id


def _check_unique(config: MatrixConfig, cells: list[Cell]) -> None:
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.id in seen:
            raise InputError(
                f"{config.path}: ids.template: two cells share the id {cell.id!r}; "
                "add the differing axis to the template or give an include an explicit id"
            )
        seen[cell.id] = cell


def select(cells: Sequence[Cell], patterns: Sequence[str]) -> list[Cell]:
    """Cells whose id matches any glob pattern (all cells when none are given)."""
    if not patterns:
        return list(cells)
    return [c for c in cells if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]

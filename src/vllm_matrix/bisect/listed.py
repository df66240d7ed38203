"""Candidates from an explicit ordered list of one field's values: ``--over "wheel:vllm==0.30.0,..."``.

The field is named (``--over "flash_attn=2,3,4"``) or inferred: values that all parse as
vLLM sources vary ``vllm``, values that all parse as torch specs vary ``torch``. Each value
is checked as the matrix file would check it. ``--good`` and ``--bad`` pick the ends among
the values (default: the first and the last); the candidates are the values between them.
"""

from __future__ import annotations

from typing import Any

from vllm_matrix.bisect.space import Candidate, Space
from vllm_matrix.errors import InputError
from vllm_matrix.matrix.cell import BUILD_FIELDS, RUNTIME_FIELDS, slug
from vllm_matrix.matrix.fields import CHECKERS
from vllm_matrix.matrix.specs import SpecError, parse_source, parse_torch

FIELDS = (*BUILD_FIELDS, "gpu", *RUNTIME_FIELDS)


def is_list(over: str) -> bool:
    """Whether ``--over`` is a list of values (``AXIS=V1,V2`` or ``V1,V2``) rather than ``torch``/``vllm``."""
    return over not in ("torch", "vllm")


def space(over: str, good: str | None, bad: str | None) -> Space:
    """The listed values from ``good`` to ``bad`` as candidates."""
    field, texts = split(over)
    if len(texts) != len(set(texts)):
        raise InputError(f"bisect --over: a value is listed twice in {over!r}")
    candidates = [Candidate(t, _value(field, t), slug(t)[:40]) for t in texts]
    suffixes = [c.suffix for c in candidates]
    if len(set(suffixes)) != len(suffixes):
        candidates = [Candidate(c.label, c.value, f"{i}_{c.suffix}") for i, c in enumerate(candidates)]
    lo, hi = _end(texts, good, "--good", 0), _end(texts, bad, "--bad", len(texts) - 1)
    if lo >= hi:
        raise InputError(f"bisect: the good end {texts[lo]!r} does not come before the bad end {texts[hi]!r}")
    return Space("list", field, tuple(candidates[lo : hi + 1]), f"{field} = {', '.join(texts[lo : hi + 1])}")


def split(over: str) -> tuple[str, list[str]]:
    """``AXIS=V1,V2,...`` or ``V1,V2,...`` -> (the field, the values)."""
    head, sep, rest = over.partition("=")
    named = bool(sep) and head.strip() in FIELDS
    texts = [t.strip() for t in (rest if named else over).split(",") if t.strip()]
    if len(texts) < 2:
        raise InputError(f"bisect --over: expected torch, vllm or a list of two or more values, got {over!r}")
    return (head.strip() if named else _infer(texts, over)), texts


def _infer(texts: list[str], over: str) -> str:
    for field, parse in (("vllm", parse_source), ("torch", parse_torch)):
        try:
            for text in texts:
                parse(text)
        except SpecError:
            continue
        return field
    raise InputError(
        f'bisect --over: cannot tell which field {over!r} varies; name it: --over "FIELD=V1,V2" '
        f"(fields: {', '.join(FIELDS)})"
    )


def _value(field: str, text: str) -> Any:
    raw: Any = text
    if field == "flash_attn":
        raw = int(text) if text.isdigit() else None if text.lower() == "none" else text
    elif field in ("enforce_eager", "experimental"):
        raw = {"true": True, "false": False}.get(text.lower(), text)
    elif field == "suites":
        raw = text.split("+")
    try:
        value = CHECKERS[field](raw)
    except SpecError as exc:
        raise InputError(f"bisect --over {field}: {exc}") from None
    return value


def _end(texts: list[str], wanted: str | None, flag: str, default: int) -> int:
    if wanted is None:
        return default
    if wanted not in texts:
        raise InputError(f"bisect {flag} {wanted!r} is not one of the listed values ({', '.join(texts)})")
    return texts.index(wanted)

"""A small inline SVG line of decode tokens/s across torch columns: the trend of one configuration.

Drawn as markup safe to put into a page as it is: every label is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 260
HEIGHT = 56
PAD = 6


def sparkline(points: Sequence[tuple[str, float]], title: str) -> Markup:
    """An SVG polyline of ``points`` (column label, tokens/s), oldest first, with a dot per point."""
    if not points:
        return Markup("")
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    xy = [
        (PAD + i * step, HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)) for i, v in enumerate(values)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(label)}: {value:g} tokens/s</title></circle>'
        for (x, y), (label, value) in zip(xy, points, strict=True)
    )
    return Markup(
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<polyline fill="none" stroke="#0969da" stroke-width="2" points="{line}"/>{dots}</svg>'
    )

"""The grid as an image for READMEs and chat: ``matrix.svg`` and ``matrix.png``, one layout for both.

The layout is sized for 800 px: label columns, then at most as many torch
columns as fit (the latest ones; the title says how many were left out), each
place a coloured box with its label inside, so the image reads without a legend.

The PNG is drawn with Pillow, which installs from a wheel on any fresh machine
and carries its own scalable font (``ImageFont.load_default(size)``): no
browser, no system fonts, no cairo. It is drawn at twice the size, so it stays
sharp when shown 800 px wide.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import escape
from PIL import Image, ImageDraw, ImageFont

from vllm_matrix.report.legend import CACHED, CACHED_FAIL_FILL, EXPERIMENTAL_FAIL_FILL, FLAKY, look
from vllm_matrix.report.model import AXIS_TITLES, CellView, Pivot

TARGET_WIDTH = 800
CELL_MIN, CELL_MAX, CELL_H = 84, 130, 48
HEAD_H, TITLE_H, PAD = 26, 30, 8
FONT, SMALL = 13, 10
PNG_SCALE = 2
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"
SVG_SLACK = 1.15  # a viewer's font for the SVG (DejaVu Sans, Verdana) runs wider than Pillow's


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str = "#d1d9e0"
    dashed: bool = False


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the baseline
    text: str
    size: int
    ink: str
    bold: bool = False
    middle: bool = False


@dataclass
class Layout:
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def text_width(text: str, size: int) -> float:
    """The drawn width of ``text`` at ``size`` px (the PNG's font; the SVG's is close to it)."""
    return float(_font(size).getlength(text))


def fit(text: str, size: int, width: float) -> str:
    """``text`` cut with an ellipsis to fit ``width``."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def wrap(text: str, size: int, width: float, lines: int = 3) -> list[str]:
    """``text`` broken after ``_`` into at most ``lines`` lines that fit ``width`` (the last one cut)."""
    parts = [p + "_" for p in text.split("_")[:-1]] + [text.split("_")[-1]]
    out = [""]
    for part in parts:
        if out[-1] and text_width(out[-1] + part, size) > width and len(out) < lines:
            out.append("")
        out[-1] += part
    return [fit(line, size, width) for line in out]


def drawable(text: str) -> str:
    """``text`` in the characters the bundled font has (it lacks ×)."""
    return text.replace("×", "x")


def layout(pivot: Pivot, title: str, footer: str) -> Layout:
    """Boxes and labels of the grid: axis columns, torch columns, one box per place."""
    label_w = [_label_width(pivot, i) for i in range(len(pivot.axes))]
    room = TARGET_WIDTH - sum(label_w) - 2 * PAD
    columns = pivot.columns[-max(1, int(room // CELL_MIN)) :]
    cell_w = max(CELL_MIN, min(CELL_MAX, room / max(len(columns), 1)))
    if len(columns) < len(pivot.columns):
        title += f" (latest {len(columns)} of {len(pivot.columns)} torch builds)"
    width = int(sum(label_w) + cell_w * len(columns) + 2 * PAD)
    height = int(TITLE_H + HEAD_H + CELL_H * len(pivot.rows) + TITLE_H + PAD)
    out = Layout(max(width, 320), height)
    out.labels.append(Label(PAD, 20, fit(drawable(title), FONT + 2, out.width - 2 * PAD), FONT + 2, "#1f2328",
                            bold=True))  # fmt: skip
    _head(out, pivot, label_w, columns, cell_w)
    for r, row in enumerate(pivot.rows):
        _row(out, pivot, row, TITLE_H + HEAD_H + r * CELL_H, label_w, columns, cell_w)
    out.labels.append(Label(PAD, height - PAD - 4, fit(footer, FONT, out.width - 2 * PAD), FONT, "#59636e"))
    return out


def _label_width(pivot: Pivot, index: int) -> float:
    texts = [AXIS_TITLES[pivot.axes[index]], *(row[index] for row in pivot.rows)]
    return max(text_width(t, FONT) for t in texts) * SVG_SLACK + 2 * PAD


def _head(out: Layout, pivot: Pivot, label_w: list[float], columns: Sequence[str], cell_w: float) -> None:
    x, y = float(PAD), float(TITLE_H)
    for axis, w in zip(pivot.axes, label_w, strict=True):
        out.boxes.append(Box(x, y, w, HEAD_H, "#f6f8fa"))
        out.labels.append(Label(x + PAD, y + 17, AXIS_TITLES[axis], FONT, "#1f2328", bold=True))
        x += w
    for column in columns:
        out.boxes.append(Box(x, y, cell_w, HEAD_H, "#f6f8fa"))
        out.labels.append(Label(x + cell_w / 2, y + 17, fit(column, FONT, cell_w - 4), FONT, "#1f2328",
                                bold=True, middle=True))  # fmt: skip
        x += cell_w


def _row(out: Layout, pivot: Pivot, row: tuple[str, ...], y: float, label_w: list[float],
         columns: Sequence[str], cell_w: float) -> None:  # fmt: skip
    x = float(PAD)
    for value, w in zip(row, label_w, strict=True):
        out.boxes.append(Box(x, y, w, CELL_H, "#ffffff"))
        out.labels.append(Label(x + PAD, y + 29, value, FONT, "#1f2328"))
        x += w
    for column in columns:
        out.boxes.append(Box(x, y, cell_w, CELL_H, "#ffffff"))
        views = pivot.at(row, column)
        if views:
            _place(out, views, x, y, cell_w)
        x += cell_w


def _place(out: Layout, views: Sequence[CellView], x: float, y: float, w: float) -> None:
    """The place's box: the first cell's colours; its label; the class (or a count) below it."""
    view = views[0]
    lk = look(FLAKY if view.flaky else view.status)
    fill = CACHED_FAIL_FILL if view.status == CACHED and view.verdict == "fail" else lk.fill
    fill = EXPERIMENTAL_FAIL_FILL if view.status == "fail" and view.experimental and not view.flaky else fill
    out.boxes.append(Box(x + 2, y + 2, w - 4, CELL_H - 4, fill, lk.ink if lk.fill == "#ffffff" else fill,
                         dashed=lk.fill == "#ffffff"))  # fmt: skip
    head = place_label(view)
    sub = view.klass if view.klass and "fail" in (view.status, view.verdict) else ""
    sub = sub if len(views) == 1 else f"+{len(views) - 1} more"
    ink = "#1f2328" if fill in (CACHED_FAIL_FILL, EXPERIMENTAL_FAIL_FILL) else lk.ink
    subs = wrap(sub, SMALL, w - 8) if sub else []
    top = {0: 29, 1: 20, 2: 16}.get(len(subs), 13)  # the head's baseline, the class lines below it
    out.labels.append(Label(x + w / 2, y + top, fit(head, FONT, w - 8), FONT, ink, bold=True, middle=True))
    for i, line in enumerate(subs):
        out.labels.append(Label(x + w / 2, y + top + 11 + i * 10, line, SMALL, ink, middle=True))


def place_label(view: CellView) -> str:
    """The word in a box: ``pass``, ``FAIL``, ``cached pass``, ``flaky fail``, ``n/a``..."""
    verdict = "FAIL" if view.verdict == "fail" else view.verdict or ""
    if view.flaky:
        return f"flaky {verdict}".strip()
    if view.status == CACHED:
        return f"cached {verdict}"
    if view.status == "fail":
        return "FAIL (exp.)" if view.experimental else "FAIL"
    return look(view.status).label


def svg(lay: Layout) -> str:
    """The layout as a standalone SVG document (every label escaped)."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width}" height="{lay.height}" '
             f'viewBox="0 0 {lay.width} {lay.height}" font-family="{FONT_FAMILY}">',
             f'<rect width="{lay.width}" height="{lay.height}" fill="#ffffff"/>']  # fmt: skip
    for b in lay.boxes:
        dash = ' stroke-dasharray="4 3"' if b.dashed else ""
        parts.append(f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="3" '
                     f'fill="{b.fill}" stroke="{b.stroke}"{dash}/>')  # fmt: skip
    for t in lay.labels:
        anchor = ' text-anchor="middle"' if t.middle else ""
        weight = ' font-weight="bold"' if t.bold else ""
        parts.append(f'<text x="{t.x:.1f}" y="{t.y:.1f}" font-size="{t.size}" fill="{t.ink}"{anchor}{weight}>'
                     f"{escape(t.text)}</text>")  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def png(lay: Layout, path: Path, scale: int = PNG_SCALE) -> None:
    """Draw the layout with Pillow at ``scale`` and save it as PNG."""
    image = Image.new("RGB", (lay.width * scale, lay.height * scale), "#ffffff")
    draw = ImageDraw.Draw(image)
    for b in lay.boxes:
        xy = (b.x * scale, b.y * scale, (b.x + b.w) * scale - 1, (b.y + b.h) * scale - 1)
        draw.rounded_rectangle(xy, radius=3 * scale, fill=b.fill, outline=b.stroke, width=scale)
    for t in lay.labels:
        font = _font(t.size * scale)
        anchor = "ms" if t.middle else "ls"
        x, y = t.x * scale, t.y * scale
        draw.text((x, y), t.text, fill=t.ink, font=font, anchor=anchor,
                  stroke_width=1 if t.bold else 0, stroke_fill=t.ink)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")

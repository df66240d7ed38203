"""How each status looks, in one table shared by the Markdown, the HTML grid and the image.

The symbols follow the tables users already read (JAX's and cibuildwheel's):
a tick for pass, a cross (with the failure class) for fail, ``n/a`` for a
combination that cannot apply. Colours carry the same meaning with a text label
inside every grid cell, so the heatmap reads without the legend.
"""

from __future__ import annotations

from dataclasses import dataclass

# A status of the report: a result.json outcome, or one the report adds.
CACHED = "cached"  # the verdict was repeated from an earlier run's identical inputs
NO_RESULT = "no-result"  # planned or selected, but nothing came back (a missing CI artifact)
UNREADABLE = "unreadable"  # a result or JUnit file is there but cannot be read
FLAKY = "flaky"  # a mark, not a status: the verdict flips on the same inputs


@dataclass(frozen=True)
class Look:
    """One status's label, Markdown symbol (emoji, as GitHub renders), page glyph, colours, CSS class."""

    key: str
    label: str
    symbol: str
    glyph: str  # the same sign without emoji fonts: DejaVu Sans has every one
    fill: str
    ink: str
    meaning: str

    @property
    def css(self) -> str:
        return "st-" + "".join(c for c in self.key if c.isalnum())


LOOKS: tuple[Look, ...] = (
    Look("pass", "pass", "✅", "✓", "#1a7f37", "#ffffff", "every stage passed"),
    Look("fail", "fail", "❌", "✗", "#cf222e", "#ffffff", "a stage failed: the failure class follows"),
    Look(
        "skip",
        "skip",
        "⏭️",
        "–",
        "#d0d7de",
        "#24292f",
        "cannot run here or now (no such GPU, nightly missing)",
    ),
    Look("n/a", "n/a", "n/a", "", "#f6f8fa", "#57606a", "the combination cannot apply; never run"),
    Look(
        CACHED,
        "cached",
        "♻️",
        "↻",
        "#9be9a8",
        "#0a3069",
        "verdict repeated from an earlier run's identical inputs",
    ),
    Look(FLAKY, "flaky", "🔀", "⇄", "#bc4c00", "#ffffff", "the verdict flips on the same inputs"),
    Look("error", "error", "💥", "!", "#8250df", "#ffffff", "the harness broke: not a verdict about vLLM"),
    Look("interrupted", "interrupted", "⏸️", "‖", "#9a6700", "#ffffff", "stopped by Ctrl-C or SIGTERM"),
    Look(NO_RESULT, "no result", "❔", "?", "#ffffff", "#cf222e", "planned, but no result came back"),
    Look(
        UNREADABLE,
        "unreadable result",
        "⚠️",
        "⚠",
        "#fff8c5",
        "#7d4e00",
        "a result file is there but unreadable",
    ),
)
BY_KEY = {look.key: look for look in LOOKS}
STATUSES = tuple(look.key for look in LOOKS if look.key != FLAKY)
# A cached failure is drawn lighter than a fresh one, as a cached pass is.
CACHED_FAIL_FILL = "#ffc1c0"
# An experimental cell's failure (it does not fail the run) is drawn lighter too.
EXPERIMENTAL_FAIL_FILL = "#ff8182"


def look(status: str) -> Look:
    """The look of ``status`` (an unknown one looks unreadable: never like a pass)."""
    return BY_KEY.get(status, BY_KEY[UNREADABLE])

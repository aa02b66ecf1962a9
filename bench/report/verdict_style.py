"""How each verdict looks, in one place: colour, cell background and marker.

The forest plot, the slope graphs and the verdict cells of every table read these, so a
verdict has one colour across the page. Colours are from Okabe and Ito's colour-blind safe
palette (Okabe & Ito 2008, "Color Universal Design"), and each verdict also has its own marker
shape, so the plots read in grey too. A verdict this table does not know looks like
"undecided".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerdictStyle:
    """`colour`: plot marks and table text; `background`: table cell; `marker`: matplotlib
    marker; `filled`: solid marker (decided) or hollow (undecided); `bold`: table text."""

    colour: str
    background: str
    marker: str
    filled: bool
    bold: bool


HELPS, HURTS, EQUIVALENT, UNDECIDED, REFERENCE = (
    "helps",
    "hurts",
    "equivalent",
    "undecided",
    "reference",
)
STYLES = {
    HELPS: VerdictStyle("#009E73", "#dcf2ea", "o", True, True),
    HURTS: VerdictStyle("#D55E00", "#fbe4d6", "s", True, True),
    EQUIVALENT: VerdictStyle("#0072B2", "#dcebf6", "D", True, True),
    UNDECIDED: VerdictStyle("#7a7a7a", "#ffffff", "o", False, False),
    REFERENCE: VerdictStyle("#222222", "#ffffff", "|", True, False),
}
DECIDED = (HELPS, HURTS, EQUIVALENT)
# The band of a suite's equivalence margin, drawn behind the forest plot's rows.
MARGIN_COLOUR = STYLES[EQUIVALENT].colour


def style(verdict: str) -> VerdictStyle:
    """The style of `verdict` (unknown verdicts look undecided)."""
    return STYLES.get(verdict, STYLES[UNDECIDED])


def is_decided(verdict: str) -> bool:
    """helps, hurts or equivalent: a verdict the index names."""
    return verdict in DECIDED


def every_style() -> dict[str, VerdictStyle]:
    """Every verdict's style by name (the page's CSS is written from it)."""
    return dict(STYLES)

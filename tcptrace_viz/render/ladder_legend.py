"""The ladder's footer: the key moments in plain words, the reset reasons glossed, and the legend
(what each arrow colour, state colour and marker means), each wrapped to fit.

Drawn by hand rather than with ``Figure.legend``: a matplotlib legend is laid out again by every
save (SVG and PNG), which was a quarter of a ladder's drawing time, and a legend row wider than
the figure was cut at both edges (a pcap ladder with many inferred states).  Here every item is
measured once with the font's own metrics, items flow into as many lines as the width needs, and
the footer is made tall enough for them.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Final, Literal

from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath

from tcptrace_viz.render.figure_style import current
from tcptrace_viz.render.ladder_colours import (
    ARROW_COLOURS,
    ARROW_LEGEND,
    ERROR_COLOUR,
    MUTED_COLOUR,
    STATE_COLOURS,
    TEXT_COLOUR,
    UNKNOWN_STATE_COLOUR,
    arrow_kind,
)
from tcptrace_viz.render.safe_text import printable
from tcptrace_viz.render.wording import INJECTED_LEGEND

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tcptrace_viz.render.ladder_model import Ladder

LINE_INCHES: Final = 0.24
"""Height of one line of legend items."""
ITEM_FONT_PT: Final = 8.0
READING_FONT_PT: Final = 7.5
HANDLE_INCHES: Final = 0.22
HANDLE_GAP_INCHES: Final = 0.07
ITEM_GAP_INCHES: Final = 0.2
MARGIN_INCHES: Final = 0.15
READING_TEXT: Final = (
    "Labels read like tcpdump: [flags] seq first:next-byte ack next-expected win window "
    "len payload-bytes;  S=SYN F=FIN R=RST P=PSH .=ACK; seq/ack count from 0 for each side.")

NOTE_FONT_PT: Final = 8.5
NOTE_LINE_INCHES: Final = 0.19
BADGE_INCHES: Final = 0.26
"""Room for a moment's number badge before its words."""
MOMENT_COLOUR: Final = "#6a1b9a"
"""The key moments' badges (a colour no arrow or state uses)."""

Handle = Literal["line", "patch", "hatched", "marker", "hollow-marker", "lost"]


@dataclasses.dataclass(frozen=True)
class Item:
    """One legend entry: a small sample of what is drawn, and what it means."""

    handle: Handle
    colour: str
    text: str
    heavy: bool = False


def legend_groups(ladder: Ladder) -> list[list[Item]]:
    """The legend's groups, each starting a new line: arrows, states, syscalls (those drawn)."""
    groups: list[list[Item]] = []
    kinds_present = {arrow_kind(e) for e in ladder.of_kind("packet")}
    arrows = [Item("line", ARROW_COLOURS[kind], text, heavy=kind == "rst")
              for kind, text in ARROW_LEGEND if kind in kinds_present]
    if any(event.lost for event in ladder.of_kind("packet")):
        arrows.append(Item("lost", TEXT_COLOUR, "lost / discarded: the receiver's kernel "
                                                "dropped it (its reason in the label)"))
    if arrows:
        groups.append(arrows)
    by_colour: dict[str, list[str]] = {}
    for band in ladder.bands:
        names = by_colour.setdefault(STATE_COLOURS.get(band.state, UNKNOWN_STATE_COLOUR), [])
        if band.state not in names:
            names.append(band.state)
    states = [Item("patch", colour, printable(" / ".join(names)))
              for colour, names in by_colour.items()]
    if any(not band.observed for band in ladder.bands):
        states.append(Item("hatched", "#777777", "hatched: state inferred, not traced"))
    if states:
        groups.append(states)
    calls = ladder.of_kind("syscall")
    if calls:
        marks = [Item("marker", TEXT_COLOUR, "syscall and its result (when it returned)")]
        if any(call.start for call in calls):
            marks.append(Item("hollow-marker", TEXT_COLOUR, "where a call that waited began"))
        if any(call.error for call in calls):
            marks.append(Item("marker", ERROR_COLOUR, "syscall failed"))
        groups.append(marks)
    return groups


@functools.cache
def _measurer() -> TextToPath:
    return TextToPath()


@functools.cache
def text_inches(text: str, size_pt: float) -> float:
    """The width of ``text`` in DejaVu Sans at ``size_pt``, from the font's metrics."""
    prop = FontProperties(family="DejaVu Sans", size=size_pt)
    width, _, _ = _measurer().get_text_width_height_descent(text, prop, ismath=False)
    return float(width) / 72.0


def _pt(size: float) -> float:
    return current().pt(size)


def _item_inches(item: Item) -> float:
    return HANDLE_INCHES + HANDLE_GAP_INCHES + text_inches(item.text, current().pt(ITEM_FONT_PT))


def legend_lines(ladder: Ladder, width_inches: float) -> list[list[Item]]:
    """The legend's items flowed into lines no wider than ``width_inches`` less the margins."""
    room = width_inches - 2 * MARGIN_INCHES
    lines: list[list[Item]] = []
    for group in legend_groups(ladder):
        line: list[Item] = []
        used = 0.0
        for item in group:
            need = _item_inches(item) + (ITEM_GAP_INCHES if line else 0.0)
            if line and used + need > room:
                lines.append(line)
                line, used, need = [], 0.0, _item_inches(item)
            line.append(item)
            used += need
        lines.append(line)
    return lines


def reading_lines(ladder: Ladder, width_inches: float) -> list[str]:
    """The how-to-read-a-label note (ladders with packets), split to fit the width."""
    if not ladder.has_wire:
        return []
    text = READING_TEXT
    if ladder.has_injected:
        text += " " + INJECTED_LEGEND
    return wrap_to(text, width_inches - 2 * MARGIN_INCHES, _pt(READING_FONT_PT))


def wrap_to(text: str, room: float, size_pt: float) -> list[str]:
    """``text`` split into lines no wider than ``room`` inches at ``size_pt`` (by words).

    Each line holds the most words that fit (at least one), found by bisection: a line's
    width grows with its words, so a few measurements per line give what measuring every
    longer prefix would."""
    words = text.split(" ")
    lines: list[str] = []
    start = 0
    while start < len(words):
        low, high = start + 1, len(words)  # words[start:low] always goes on the line
        while low < high:
            middle = (low + high + 1) // 2
            if text_inches(" ".join(words[start:middle]), size_pt) > room:
                high = middle - 1
            else:
                low = middle
        lines.append(" ".join(words[start:low]))
        start = low + (low < len(words) and not words[low])  # a doubled space: broken there
    return lines or [""]


def note_lines(ladder: Ladder, width_inches: float) -> list[tuple[int, str]]:
    """The key moments (``(number, line)``; 0 on a continuation line) and a gloss of each
    reset reason the ladder shows (number 0), wrapped to the width."""
    room = width_inches - 2 * MARGIN_INCHES - BADGE_INCHES * current().font
    lines: list[tuple[int, str]] = []
    for number, says in enumerate(ladder.moments, start=1):
        for index, line in enumerate(wrap_to(printable(says), room, _pt(NOTE_FONT_PT))):
            lines.append((number if index == 0 else 0, line))
    for reason, words in ladder.glossed_resets():
        text = printable(f"reset reason {reason}: {words}")
        lines += [(0, line) for line in wrap_to(text, room, _pt(NOTE_FONT_PT))]
    return lines


def legend_inches(ladder: Ladder, width_inches: float) -> float:
    """The height the footer needs under the lifelines (notes, legend, reading note, count)."""
    lines = len(legend_lines(ladder, width_inches))
    notes = len(reading_lines(ladder, width_inches)) + int(
        ladder.packets_drawn < ladder.packets_total)
    moments = len(note_lines(ladder, width_inches))
    scale = current().font
    extra = NOTE_LINE_INCHES * scale * moments + 0.12 if moments else 0.0
    return 0.2 + extra + (LINE_INCHES * lines + 0.18 * notes) * scale + 0.1


def draw_badge(target: Any, x: float, y: float, number: int, **kwargs: Any) -> Any:
    """A key moment's number in a filled circle, centred on (x, y) of ``target``."""
    return target.text(x, y, str(number), fontsize=_pt(8), fontweight="bold", color="white",
                       ha="center", va="center", parse_math=False, usetex=False, zorder=8,
                       bbox={"boxstyle": "circle,pad=0.25", "fc": MOMENT_COLOUR, "ec": "none"},
                       **kwargs)


def draw_legend(fig: Figure, ladder: Ladder, top_inches: float) -> None:
    """Draw the footer on ``fig``, its first line ``top_inches`` above the figure's bottom."""
    width, height = (float(v) for v in fig.get_size_inches())
    scale = current().font
    note_line, line_inches, badge = (NOTE_LINE_INCHES * scale, LINE_INCHES * scale,
                                     BADGE_INCHES * scale)
    y = top_inches - note_line / 2
    moments = note_lines(ladder, width)
    for line, (number, words) in enumerate(moments):  # tv-note-*: hidden while a report plays
        if number:
            draw_badge(fig, (MARGIN_INCHES + badge / 2 - 0.04) / width, y / height,
                       number).set_gid(f"tv-note-{line}-badge")
        fig.text((MARGIN_INCHES + badge) / width, y / height, words,
                 fontsize=_pt(NOTE_FONT_PT), va="center", ha="left", color=TEXT_COLOUR,
                 parse_math=False, usetex=False, gid=f"tv-note-{line}")
        y -= note_line
    if moments:
        y -= 0.12
    y += note_line / 2 - line_inches / 2
    for items in legend_lines(ladder, width):
        total = sum(_item_inches(item) for item in items) + ITEM_GAP_INCHES * (len(items) - 1)
        x = (width - total) / 2
        for item in items:
            _draw_handle(fig, item, x / width, (x + HANDLE_INCHES) / width, y / height)
            fig.text((x + HANDLE_INCHES + HANDLE_GAP_INCHES) / width, y / height, item.text,
                     fontsize=_pt(ITEM_FONT_PT), va="center", ha="left", color=TEXT_COLOUR,
                     parse_math=False, usetex=False)
            x += _item_inches(item) + ITEM_GAP_INCHES
        y -= line_inches
    y += line_inches / 2 - 0.08
    notes = reading_lines(ladder, width)
    if ladder.packets_drawn < ladder.packets_total:
        notes.append(f"{ladder.packets_drawn} of {ladder.packets_total} packets drawn.")
    for note in notes:
        fig.text(0.5, y / height, note, fontsize=_pt(READING_FONT_PT), ha="center", va="top",
                 color=MUTED_COLOUR, parse_math=False, usetex=False)
        y -= 0.18 * scale


def _draw_handle(fig: Figure, item: Item, x0: float, x1: float, y: float) -> None:
    """The sample of one item, between ``x0`` and ``x1`` at height ``y`` (figure fractions)."""
    style: dict[str, Any] = {"transform": fig.transFigure}
    if item.handle == "line":
        fig.add_artist(Line2D([x0, x1], [y, y], color=item.colour,
                              lw=current().lw(2.6 if item.heavy else 1.3), **style))
    elif item.handle == "lost":
        fig.add_artist(Line2D([x0, x1], [y, y], color=item.colour, ls="--",
                              lw=current().lw(1.3), **style))
        fig.add_artist(Line2D([x1], [y], marker="x", ms=_pt(6), ls="", color=item.colour,
                              **style))
    elif item.handle in ("marker", "hollow-marker"):
        hollow = item.handle == "hollow-marker"
        fig.add_artist(Line2D([(x0 + x1) / 2], [y], marker="D", ms=_pt(6), ls="",
                              color=item.colour, mfc="white" if hollow else item.colour,
                              **style))
    else:
        box_h = 0.1 / float(fig.get_size_inches()[1])
        hatched = item.handle == "hatched"
        fig.add_artist(Rectangle((x0, y - box_h / 2), x1 - x0, box_h,
                                 facecolor="white" if hatched else item.colour,
                                 edgecolor=item.colour if hatched else "none",
                                 hatch="////" if hatched else None, lw=0.8, **style))
